"""What one triage says to the alert rules: each KPI per subject, each finding, and what was measured. Pure.

    obs = observe(report, cfg)      # a Report from perfbook.triage
    obs.values("p95_s")             # [Observed("p95_s", "/api/v1/users", 2.4, count=120, ...), ...]

A figure per subject (one endpoint, one container, one mount) rather than the report's single
worst KPI, so an alert keeps its subject when another endpoint becomes the slowest. A figure from
too few samples (``enough=False``) neither fires nor resolves an alert, and neither does a layer
whose probe could not run (``measured`` is False): the layer's ``*.unreachable`` alert says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from perfbook.alerts.when import Condition, KpiCondition
from perfbook.evidence import USABLE_STATUSES, is_usable
from perfbook.probes import probes_seeing
from perfbook.redact import redact_url

if TYPE_CHECKING:
    from perfbook.config import Config
    from perfbook.model import Evidence, Report

MIN_LOOKUPS = 100  # as the redis rules judge a hit rate (from 100 lookups)
FIGURE_PROBES = {
    "p95_s": ("http", "metrics"),
    "error_rate": ("http", "metrics"),
    "cpu_pct": ("host", "containers"),
    "memory_pct": ("host", "containers"),
    "disk_pct": ("host",),
    "db_query_mean_ms": ("postgres",),
    "cache_hit_rate": ("redis",),
}


@dataclass(frozen=True)
class Observed:
    """One figure or finding for one subject in one triage.

    ``key`` is a figure name (``p95_s``) or ``finding CODE``; ``count`` the requests or lookups a
    share was computed from; ``labels`` what inhibition matches on (``backend``).
    """

    key: str
    subject: str
    value: float | None
    threshold: float | None = None
    count: int | None = None
    enough: bool = True
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Observation:
    """Everything one triage gives the rules; serialisable (``to_dict`` / ``from_dict``) for the store."""

    items: list[Observed] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)  # probe -> status of its run
    measured_figures: list[str] = field(default_factory=list)  # figures some probe could measure this run

    def values(self, key: str) -> list[Observed]:
        """Every item of a figure name or ``finding CODE``."""
        return [o for o in self.items if o.key == key]

    def measured(self, condition: Condition) -> bool:
        """True when this run could have seen the condition: its figure was measured, or its layer probed."""
        if isinstance(condition, KpiCondition):
            return condition.figure in self.measured_figures
        probes = probes_seeing(condition.code)  # whose run decides whether the code was looked for
        ran = USABLE_STATUSES + (("unavailable",) if condition.code.endswith(".unreachable") else ())
        return any(self.probes.get(p) in ran for p in probes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [asdict(o) for o in self.items],
            "probes": dict(self.probes),
            "measured_figures": list(self.measured_figures),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Observation:
        return cls(
            [Observed(**o) for o in doc.get("items", [])],
            dict(doc.get("probes", {})),
            list(doc.get("measured_figures", [])),
        )


def key_of(condition: Condition) -> str:
    """The :attr:`Observed.key` a condition reads."""
    return condition.figure if isinstance(condition, KpiCondition) else f"finding {condition.code}"


def observe(report: Report, cfg: Config) -> Observation:
    """The figures per subject and the findings of ``report`` (pure: reads its evidence and KPIs)."""
    probes: dict[str, str] = {name: ev.status for name, ev in report.probes.items()}
    backend = str(report.target.get("http") or redact_url(cfg.http.base_url))
    items = _latency(report, cfg, backend) + _errors(report, cfg, backend) + _resources(report)
    items += _data_layers(report)
    for f in report.findings:
        labels = {"backend": backend} if f.code.startswith("http.") else {}
        items.append(
            Observed(
                f"finding {f.code}",
                f.subject,
                f.value,
                f.threshold,
                enough=not f.low_confidence,
                labels=labels,
            )
        )
    measured = [
        fig for fig, names in FIGURE_PROBES.items() if any(probes.get(n) in USABLE_STATUSES for n in names)
    ]
    for fig, kpi in (
        ("db_query_mean_ms", report.kpis.db_query_mean_ms),
        ("cache_hit_rate", report.kpis.cache_hit_rate),
    ):
        if (
            kpi is None and fig in measured
        ):  # the probe ran but could not compute it (no statements, no lookups)
            measured.remove(fig)
    return Observation(items, probes, measured)


def _data(report: Report, probe: str) -> Any:
    ev: Evidence | None = report.probes.get(probe)
    return ev.data if is_usable(ev) else None


def _latency(report: Report, cfg: Config, backend: str) -> list[Observed]:
    """p95 per endpoint: the app's metrics (from min_window_requests) or perfbook's requests, the worse."""
    from perfbook.rules.http import judged_handlers  # the same handler selection as the KPI

    worst: dict[str, Observed] = {}
    labels = {"backend": backend}
    metrics = _data(report, "metrics")
    for h in judged_handlers(metrics, cfg) if metrics is not None else []:
        if h.p95_s is not None:
            enough = h.requests >= cfg.http.min_window_requests
            _keep_worst(
                worst, Observed("p95_s", h.handler, h.p95_s, count=h.requests, enough=enough, labels=labels)
            )
    http = _data(report, "http")
    for ep in http.endpoints if http is not None else []:
        if ep.p95_s is not None:
            _keep_worst(worst, Observed("p95_s", ep.path, ep.p95_s, count=ep.requests, labels=labels))
    return list(worst.values())


def _keep_worst(worst: dict[str, Observed], item: Observed) -> None:
    old = worst.get(item.subject)
    if old is None or (item.enough, item.value or 0) > (old.enough, old.value or 0):
        worst[item.subject] = item


def _errors(report: Report, cfg: Config, backend: str) -> list[Observed]:
    k = report.kpis
    if k.error_rate is None:
        return []
    enough = (k.error_requests or 0) >= cfg.http.min_window_requests
    return [
        Observed(
            "error_rate",
            backend,
            k.error_rate,
            count=k.error_requests,
            enough=enough,
            labels={"backend": backend},
        )
    ]


def _resources(report: Report) -> list[Observed]:
    """CPU and memory of each container against its own limit, the host's for the rest; disk per mount."""
    items: list[Observed] = []
    host = _data(report, "host")
    if host is not None:
        if host.cpu is not None:
            items.append(Observed("cpu_pct", host.hostname, host.cpu.busy_pct))
        if host.memory is not None:
            items.append(Observed("memory_pct", host.hostname, host.memory.used_pct))
        items += [Observed("disk_pct", m.mountpoint, m.used_pct) for m in host.mounts]
    containers = _data(report, "containers")
    for c in containers.containers if containers is not None else []:
        if c.cpu_pct is not None and c.cpu_basis == "limit":
            items.append(Observed("cpu_pct", f"container {c.name}", c.cpu_pct))
        if c.memory_pct is not None and c.memory_limit_bytes:
            items.append(Observed("memory_pct", f"container {c.name}", c.memory_pct))
    return items


def _data_layers(report: Report) -> list[Observed]:
    items: list[Observed] = []
    k = report.kpis
    if k.db_query_mean_ms is not None:
        pg = _data(report, "postgres")
        subject = pg.server.database if pg is not None else str(report.target.get("postgres", "postgres"))
        items.append(Observed("db_query_mean_ms", subject, k.db_query_mean_ms))
    if k.cache_hit_rate is not None:
        redis = _data(report, "redis")
        subject = redis.url if redis is not None else str(report.target.get("redis", "redis"))
        items.append(
            Observed(
                "cache_hit_rate",
                subject,
                k.cache_hit_rate,
                count=k.cache_lookups,
                enough=(k.cache_lookups or 0) >= MIN_LOOKUPS,
            )
        )
    return items
