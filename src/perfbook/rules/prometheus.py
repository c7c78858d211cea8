"""Prometheus rules: a fleet of replicas judged as one service, with the replica that stands out named. Pure.

Codes: prometheus.unreachable, prometheus.instance_outlier, and the HTTP and host layers' own
codes (http.slow_response, http.error_rate_high, host.cpu_high, host.memory_high, host.disk_high,
container.cpu_high, container.memory_high):
the fleet's figures have the metrics probe's shape, so :mod:`perfbook.rules.http` judges them with
the same thresholds and severity, and the titles say the source and the worst replica
("p95 4.10 s on /api/v1/users (prometheus); prometheus: worst 10.0.0.7:8001 of 3 replicas (p95 …)").
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.host import HostEvidence
from perfbook.evidence.metrics import HandlerWindow, MetricsEvidence
from perfbook.evidence.prometheus import InstanceWindow, PrometheusEvidence
from perfbook.model import Evidence, Finding, Level
from perfbook.rules import http as http_rules
from perfbook.units import format_duration, format_duration_range, format_pct

OUTLIER_RATIO = 2.0  # a replica twice as slow (or erroring twice as often) as the others' median stands out


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings for the fleet from the ``prometheus`` evidence."""
    ev = evidence.get("prometheus")
    if ev is None or ev.status in ("skipped", "error"):
        return []
    if ev.status == "unavailable":
        url = cfg.prometheus.url
        return [
            finding(
                "prometheus.unreachable",
                "prometheus",
                f"Prometheus gave no figures: {ev.reason or 'no answer'}",
                evidence={
                    "reason": ev.reason,
                    "fallback": "direct scrape of [http] base_url"
                    if cfg.http.base_url and cfg.http.metrics_path
                    else None,
                    "url_set": bool(url),
                },
            )
        ]
    data = usable(ev, PrometheusEvidence)
    if data is None:
        return []
    out = [_with_replicas(f, data) for f in http_rules.evaluate(_as_evidence(data), cfg)]
    out += _outliers(data, cfg)
    out += _hosts(data, cfg)
    out += _containers(data, cfg)
    return out


def kpis(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> dict[str, Any]:
    """The fleet's p95 / error rate when no direct scrape measured them; the busiest machine's host figures
    when the host probe did not run."""
    data = usable(evidence.get("prometheus"), PrometheusEvidence)
    if data is None:
        return {}
    out: dict[str, Any] = {}
    direct = usable(evidence.get("metrics"), MetricsEvidence)
    if direct is None or direct.total is None or not direct.total.requests:
        out = http_rules.kpis(_as_evidence(data), cfg)
        if out.get("p95_source") == "metrics":
            out["p95_source"] = "prometheus"
    if usable(evidence.get("host"), HostEvidence) is None and data.hosts:
        for key in ("cpu_pct", "memory_pct", "disk_pct"):
            values = [getattr(h, key) for h in data.hosts if getattr(h, key) is not None]
            if values:
                out[key] = max(values)
    return out


def as_metrics(data: PrometheusEvidence) -> MetricsEvidence:
    """The fleet's figures in the metrics probe's shape (what the HTTP rules read)."""
    return MetricsEvidence(
        url=data.url,
        window_s=data.range_s,
        handlers=data.handlers,
        total=data.total,
        families=data.families,
        notes=data.notes,
    )


def _as_evidence(data: PrometheusEvidence) -> dict[str, Evidence[Any]]:
    return {"metrics": Evidence("metrics", "ok", 0.0, data=as_metrics(data))}


def _with_replicas(f: Finding, data: PrometheusEvidence) -> Finding:
    """The HTTP finding, its title naming the source and the worst replica of the route."""
    per = _per_instance(data, f.subject)
    worst = _worst(per, by_errors=f.code == "http.error_rate_high")
    evidence = {
        **f.evidence,
        "source": "prometheus",
        "replicas": len(data.instances),
        "instances": {i: _figures(h) for i, h in per.items()},
    }
    if evidence.get("judged_from") == "metrics":
        evidence["judged_from"] = "prometheus"
    title = f.title.replace("(metrics", "(prometheus", 1)
    if worst is not None:
        inst, h = worst
        figure = (
            f"5xx {format_pct(h.error_share)}"
            if f.code == "http.error_rate_high"
            else f"p95 {format_duration(h.p95_s)}"
        )
        title += f"; prometheus: worst {inst} of {len(data.instances)} replicas ({figure})"
        evidence["worst_instance"] = inst
    return dataclasses.replace(f, title=title, evidence=evidence)


def _outliers(data: PrometheusEvidence, cfg: Config) -> list[Finding]:
    th, min_n = cfg.thresholds, cfg.http.min_window_requests
    out = []
    for route in sorted({h.handler for h in http_rules.judged_handlers(as_metrics(data), cfg)}):
        per = {i: h for i, h in _per_instance(data, route).items() if h.requests >= min_n}
        if len(per) < 2:
            continue
        for inst, h in per.items():
            others = [o for i, o in per.items() if i != inst]
            slow = _stands_out(h.p95_s, [o.p95_s for o in others], th.severity_p3_s)
            erring = _stands_out(h.error_share, [o.error_share for o in others], th.error_rate)
            if slow or erring:
                out.append(_outlier(route, inst, h, others, len(data.instances), slow))
    return out


def _stands_out(value: float | None, others: list[float | None], floor: float) -> bool:
    if value is None or value < floor:
        return False
    rest = [v for v in others if v is not None]
    return bool(rest) and value >= OUTLIER_RATIO * statistics.median(rest) and value > max(rest)


def _outlier(
    route: str, inst: str, h: HandlerWindow, others: list[HandlerWindow], replicas: int, slow: bool
) -> Finding:
    if slow:
        rest = statistics.median([o.p95_s for o in others if o.p95_s is not None])
        figure = format_duration_range(*h.p95_range_s) if h.p95_range_s else format_duration(h.p95_s)
        what = f"p95 {figure} on {route} from {inst}, the others' median {format_duration(rest)}"
        value = h.p95_s
    else:
        rest = statistics.median([o.error_share for o in others if o.error_share is not None])
        what = (
            f"5xx {format_pct(h.error_share)} on {route} from {inst}, the others' median {format_pct(rest)}"
        )
        value = h.error_share
    return finding(
        "prometheus.instance_outlier",
        f"{route}@{inst}",
        f"{what} ({replicas} replicas)",
        value=value,
        unit="s" if slow else "share of requests",
        evidence={
            "instance": inst,
            "route": route,
            "replicas": replicas,
            "figures": _figures(h),
            "others_median": rest,
            "source": "prometheus",
        },
    )


def _hosts(data: PrometheusEvidence, cfg: Config) -> list[Finding]:
    th = cfg.thresholds
    out = []
    for host in data.hosts:
        for code, value, limit, what in (
            ("host.cpu_high", host.cpu_pct, th.cpu_pct, "CPU"),
            ("host.memory_high", host.memory_pct, th.memory_pct, "memory"),
            ("host.disk_high", host.disk_pct, th.disk_pct, f"disk {host.disk_mount or ''}".strip()),
        ):
            if value is None or value < limit:
                continue
            level = Level.CRITICAL if value >= 95 else None
            out.append(
                finding(
                    code,
                    host.instance,
                    f"{what} {value:.1f} % on {host.instance} (prometheus, node_exporter)",
                    value=value,
                    threshold=limit,
                    unit="%",
                    level=level,
                    evidence={"instance": host.instance, "mount": host.disk_mount, "source": "prometheus"},
                )
            )
    return out


def _containers(data: PrometheusEvidence, cfg: Config) -> list[Finding]:
    """cAdvisor's containers against their own limits (none without a limit: a share of what?)."""
    th = cfg.thresholds
    out = []
    for c in data.containers:
        where = f"{c.name}@{c.instance}"
        if c.cpu_pct is not None and c.cpu_pct >= th.cpu_pct:
            out.append(
                finding(
                    "container.cpu_high",
                    where,
                    f"{c.name} on {c.instance} uses {c.cpu_pct:.0f} % of its "
                    f"{c.cpu_limit_cores:g}-core limit (prometheus, cAdvisor)",
                    value=c.cpu_pct,
                    threshold=th.cpu_pct,
                    unit="% of the CPU limit",
                    evidence={
                        "instance": c.instance,
                        "name": c.name,
                        "cpu_cores": c.cpu_cores,
                        "cpu_limit_cores": c.cpu_limit_cores,
                        "source": "prometheus",
                    },
                )
            )
        if c.memory_pct is not None and c.memory_pct >= th.memory_pct:
            out.append(
                finding(
                    "container.memory_high",
                    where,
                    f"{c.name} on {c.instance} uses {c.memory_pct:.0f} % of "
                    "its memory limit (prometheus, cAdvisor)",
                    value=c.memory_pct,
                    threshold=th.memory_pct,
                    unit="% of the memory limit",
                    level=Level.CRITICAL if c.memory_pct >= 95 else None,
                    evidence={
                        "instance": c.instance,
                        "name": c.name,
                        "memory_bytes": c.memory_bytes,
                        "memory_limit_bytes": c.memory_limit_bytes,
                        "source": "prometheus",
                    },
                )
            )
    return out


def _per_instance(data: PrometheusEvidence, route: str) -> dict[str, HandlerWindow]:
    """Each replica's figures of ``route`` (its worst method)."""
    out: dict[str, HandlerWindow] = {}
    for inst in data.instances:
        h = _route_of(inst, route)
        if h is not None:
            out[inst.instance] = h
    return out


def _route_of(inst: InstanceWindow, route: str) -> HandlerWindow | None:
    matching = [h for h in inst.handlers if h.handler == route and h.requests > 0]
    return max(matching, key=lambda h: (h.p95_s or 0.0, h.error_share or 0.0), default=None)


def _worst(per: dict[str, HandlerWindow], *, by_errors: bool) -> tuple[str, HandlerWindow] | None:
    if not per:
        return None
    return max(per.items(), key=lambda kv: (kv[1].error_share or 0.0) if by_errors else (kv[1].p95_s or 0.0))


def _figures(h: HandlerWindow) -> dict[str, Any]:
    return {
        "requests": h.requests,
        "rate_rps": h.rate_rps,
        "p95_s": h.p95_s,
        "p95_range_s": h.p95_range_s,
        "p95_over_bound": h.p95_over_bound,
        "error_share": h.error_share,
    }
