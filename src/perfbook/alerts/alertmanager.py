"""The Alertmanager receiver and route that send perfbook's alerts to ``perfbook serve``. Pure.

    doc = alertmanager_config(rules, cfg, token_file="/etc/alertmanager/perfbook.token")

A whole, valid Alertmanager config (``amtool check-config`` passes it): a ``perfbook`` webhook
receiver posting to ``POST /hooks/alertmanager`` with ``send_resolved``, a route using the same
``repeat_interval`` as perfbook's own alerts, and the inhibition perfbook applies itself (an
unreachable backend holds back its latency and error alerts). To merge it into an existing
config, add the receiver and put the route under your route's ``routes:``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perfbook.alerts.engine import DEFAULT_INHIBITIONS
from perfbook.alerts.observe import key_of
from perfbook.alerts.prometheus import prom_duration
from perfbook.alerts.rules import AlertRule
from perfbook.units import parse_duration

if TYPE_CHECKING:
    from perfbook.config import Config

RECEIVER = "perfbook"
HOOK_PATH = "/hooks/alertmanager"


def alertmanager_config(
    rules: list[AlertRule],
    cfg: Config,
    *,
    token: str | None = None,
    token_file: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """The config document; the bearer token inline (``token``) or read by Alertmanager (``token_file``)."""
    if (token is None) == (token_file is None):
        raise ValueError("give exactly one of token and token_file")
    auth: dict[str, str] = {"type": "Bearer"}
    if token_file is not None:
        auth["credentials_file"] = token_file
    else:
        auth["credentials"] = token  # type: ignore[assignment]
    base = (url or cfg.alerts.serve_url).rstrip("/")
    doc: dict[str, Any] = {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "job"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": prom_duration(parse_duration(cfg.alerts.repeat_interval)),
        },
        "receivers": [
            {
                "name": RECEIVER,
                "webhook_configs": [
                    {"url": base + HOOK_PATH, "send_resolved": True, "http_config": {"authorization": auth}}
                ],
            }
        ],
    }
    inhibit = inhibit_rules(rules)
    if inhibit:
        doc["inhibit_rules"] = inhibit
    return doc


def inhibit_rules(rules: list[AlertRule]) -> list[dict[str, Any]]:
    """perfbook's inhibitions by the rules that read them (the backend is a Prometheus ``job``)."""
    out = []
    for inh in DEFAULT_INHIBITIONS:
        sources = [r.name for r in rules if key_of(r.condition) == inh.source]
        targets = [r.name for r in rules if key_of(r.condition) in inh.targets]
        if sources and targets:
            out.append(
                {
                    "source_matchers": [f'alertname=~"{"|".join(sources)}"'],
                    "target_matchers": [f'alertname=~"{"|".join(targets)}"'],
                    "equal": ["job"],
                }
            )
    return out
