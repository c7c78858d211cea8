"""Which triage an alert asks for: its labels narrow the config and the probes. Pure.

- ``job`` → the prometheus probe's selector (``job="api"`` added unless the configured selector
  names a job already), so the fleet of that job is judged, its replicas compared;
- ``instance`` → when it is not the ``[http] base_url`` this perfbook scrapes, the probes that
  describe this machine or that one target (http, metrics, host, process, containers, websocket,
  frontend) are left out: Prometheus has that replica's figures, this machine does not;
- ``handler`` / ``path`` / ``route`` / ``endpoint`` → the route the report is read for (its ``focus``).

    scope = scope_for(cfg, {"job": "api", "instance": "10.0.0.7:8001"})
    triage(scope.config, skip=scope.skip)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from perfbook.config import Config
from perfbook.probes.metrics_parse import HANDLER_LABELS

ELSEWHERE = ("http", "metrics", "host", "process", "containers", "websocket", "frontend")


@dataclass(frozen=True)
class Scope:
    """The config the triage runs with, the probes it skips, and what the alert pointed at."""

    config: Config
    skip: list[str] = field(default_factory=list)
    focus: dict[str, str] = field(default_factory=dict)  # job / instance / route from the alert's labels

    def describe(self) -> str:
        """``job=api, instance=10.0.0.7:8001; skipped http, metrics`` for the timeline."""
        where = ", ".join(f"{k}={v}" for k, v in self.focus.items()) or "no labels to scope by"
        return where + (f"; skipped {', '.join(self.skip)}" if self.skip else "")


def scope_for(cfg: Config, labels: dict[str, str]) -> Scope:
    """The triage these alert labels (the group's common labels) ask for."""
    focus: dict[str, str] = {}
    prom = cfg.prometheus
    job = labels.get("job")
    if job:
        focus["job"] = job
        if prom.url and "job" not in prom.selector:
            matcher = f'job="{_escaped(job)}"'
            selector = f"{prom.selector.strip().strip('{}')},{matcher}" if prom.selector.strip() else matcher
            cfg = cfg.model_copy(update={"prometheus": prom.model_copy(update={"selector": selector})})
    skip: list[str] = []
    instance = labels.get("instance")
    if instance:
        focus["instance"] = instance
        if prom.url and instance != _netloc(cfg.http.base_url):
            skip = list(ELSEWHERE)
    route = next((labels[k] for k in HANDLER_LABELS if labels.get(k)), None)
    if route:
        focus["route"] = route
    return Scope(config=cfg, skip=skip, focus=focus)


def _netloc(url: str) -> str:
    parts = urlsplit(url) if url else None
    if parts is None or not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
