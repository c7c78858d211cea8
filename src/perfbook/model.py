"""The shared vocabulary of perfbook: severity, levels, findings, actions, causes, evidence, report.

No I/O here. Everything is a plain dataclass; :func:`jsonable` turns any of them (and the
evidence dataclasses of :mod:`perfbook.evidence`) into JSON-ready dicts, which is what the report
contract is made of.

Example::

    f = Finding(code="pg.dead_tuples", level=Level.WARNING, issue_type=IssueType.DATABASE,
                subject="public.users", title="public.users is 35 % dead tuples",
                value=0.35, threshold=0.2, unit="dead / (live + dead)")
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

SCHEMA_VERSION = 1


class Severity(enum.StrEnum):
    """Incident severity from the runbook (P0 worst). ``OK``: measured and within every limit."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    OK = "OK"

    @property
    def rank(self) -> int:
        """0 for P0 … 4 for OK: lower is worse."""
        return list(Severity).index(self)

    def at_least(self, other: Severity) -> bool:
        """True when this severity is as bad as ``other`` or worse."""
        return self.rank <= other.rank


class Level(enum.StrEnum):
    """How bad one finding is (docs/report-schema.md, ``level``)."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical … 2 for info: lower is worse."""
        return list(Level).index(self)


class IssueType(enum.StrEnum):
    """The runbook's performance issue types."""

    HIGH_RESPONSE_TIME = "high_response_time"
    HIGH_RESOURCE_USAGE = "high_resource_usage"
    DATABASE = "database"
    CACHE = "cache"
    NETWORK = "network"
    SCALABILITY = "scalability"


ProbeStatus = Literal["ok", "partial", "unavailable", "skipped", "error"]
DataT = TypeVar("DataT")


@dataclass(frozen=True)
class Action:
    """A recommended fix: what it does, the perfbook command, and the raw ``manual`` equivalent.

    ``id`` names an entry of the fix catalog (``pg.create_index``, ``redis.set_policy`` …) so
    ``perfbook fix --from-report`` can perform it; ``command`` is None where perfbook has no
    command yet, ``manual`` is always a safe command a person can run without perfbook.
    """

    id: str
    summary: str
    manual: str
    command: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth knowing), identified by ``code`` + ``subject``."""

    code: str
    level: Level
    issue_type: IssueType
    subject: str
    title: str
    value: float | None = None
    threshold: float | None = None
    unit: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    low_confidence: bool = False  # from fewer samples than the rules ask for; never escalates

    @property
    def key(self) -> str:
        """``code:subject``, the finding's identity (used by causes)."""
        return f"{self.code}:{self.subject}"


@dataclass(frozen=True)
class Cause:
    """A ranked root-cause hypothesis that joins findings across layers."""

    summary: str
    confidence: float  # 0–1
    findings: tuple[str, ...]  # "code:subject" keys
    evidence: dict[str, Any] = field(default_factory=dict)
    action: Action | None = None
    reasons: tuple[str, ...] = ()  # what raised or lowered the confidence, in words
    layer: str | None = None  # "postgres", "redis", "http", "host", "process", "containers" …


@dataclass(frozen=True)
class Evidence(Generic[DataT]):
    """What one probe gathered. ``data`` is the probe's own dataclass from :mod:`perfbook.evidence`
    (``Evidence[PostgresEvidence]``), or None when it could not run; read it with
    :func:`perfbook.evidence.usable`.

    status: ok | partial (some figures missing or untrustworthy) | unavailable (target not
    reachable) | skipped (not configured, or not asked for) | error (a perfbook bug).
    """

    probe: str
    status: ProbeStatus
    duration_s: float
    reason: str | None = None
    data: DataT | None = None


# p95 sources read from the app's histograms (a coarse bucket is a range)
HISTOGRAM_SOURCES = ("metrics", "prometheus")


@dataclass
class Kpis:
    """The runbook's KPIs for this triage; ``None`` means not measured, never a made-up number."""

    p95_s: float | None = None
    # "metrics" | "http" | "prometheus" (the app's histograms, read through Prometheus)
    p95_source: str | None = None
    p95_subject: str | None = None
    p95_over_bound: bool = False
    p95_requests: int | None = None
    p95_range_s: list[float] | None = None  # [lower, upper] of the metrics' coarse bucket holding the p95
    error_rate: float | None = None
    error_requests: int | None = None  # requests the error rate is computed over
    cpu_pct: float | None = None
    memory_pct: float | None = None
    disk_pct: float | None = None
    db_query_mean_ms: float | None = None
    cache_hit_rate: float | None = None
    cache_lookups: int | None = None  # lookups the hit rate is computed over (judged from 100)


@dataclass(frozen=True)
class UnreliableFigure:
    """A latency figure over its limit only because perfbook's own event loop stalled while it was
    measured: no finding is raised on it, and the report says so."""

    # the finding it would have raised: "redis.latency_high", "ws.latency_high", "http.slow_response"
    code: str
    subject: str  # what it was about (redacted URL, route)
    figure: str  # which figure: "PING p99", "round trip p95", "timed p95"
    value: float  # as measured
    net: float  # the same figure with perfbook's own stalls during each sample taken out
    limit: float  # the threshold it crossed only with the stalls in
    unit: str  # "ms" or "s"


@dataclass
class LoopLag:
    """perfbook's own event loop during the window, as ``redis-cli --intrinsic-latency`` measures a
    host: how late a sleeper woke. The probes time Redis PINGs, WebSocket round trips and HTTP
    requests on this loop, so its stalls would show as the target's latency."""

    tick_ms: float  # the sampler's sleep
    samples: int  # wake-ups measured
    duration_s: float  # how long it sampled (the probes' window)
    p50_ms: float | None = None  # median lateness of a wake-up
    p99_ms: float | None = None  # 99th percentile lateness
    max_ms: float | None = None  # the longest stall
    stalled_ms: float = 0.0  # total time the loop woke late by more than a millisecond
    unreliable: list[UnreliableFigure] = field(default_factory=list)  # figures its stalls explain


@dataclass
class Report:
    """A triage report; :func:`perfbook.report.json.report_to_dict` renders it to the contract."""

    started_at: str
    duration_s: float
    window_s: float
    target: dict[str, Any]
    severity: Severity | None
    severity_reason: str
    issue_types: list[IssueType]
    kpis: Kpis
    findings: list[Finding]
    probes: dict[str, Evidence[Any]]
    causes: list[Cause] = field(default_factory=list)
    perfbook: str = ""
    schema_version: int = SCHEMA_VERSION
    loop_lag: LoopLag | None = None  # perfbook's own event loop during the window (None: not measured)
    # findings nothing in the evidence links to the symptoms
    also_seen: list[Cause] = field(default_factory=list)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by code and subject (stable, so reports diff well)."""
    return sorted(findings, key=lambda f: (f.level.rank, f.low_confidence, f.code, f.subject))


def jsonable(obj: Any) -> Any:
    """Turn dataclasses, enums, tuples and non-finite floats into JSON-ready values.

    >>> jsonable({"a": (1, float("inf")), "b": Level.INFO})
    {'a': [1, None], 'b': 'info'}
    """
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def from_jsonable(tp: Any, value: Any) -> Any:
    """The inverse of :func:`jsonable` for evidence: ``value`` (from JSON) as type ``tp``.

    Builds dataclasses, lists of them and optionals; other values are kept as they are. A field
    missing from ``value`` takes its default, or None when it has none (a recording older than the
    field reads as a probe that could not measure it).

    >>> from perfbook.evidence.http import HealthCheck
    >>> from_jsonable(HealthCheck, {"url": "http://x/health", "ok": True})
    HealthCheck(url='http://x/health', ok=True, status=None, duration_s=None, error=None)
    """
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_jsonable(args[0], value) if len(args) == 1 else value
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [from_jsonable(arg, v) for v in value]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        required = {
            f.name
            for f in dataclasses.fields(tp)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        build: Any = tp  # a dataclass type (is_dataclass narrows it to an instance or a type)
        return build(
            **{
                f.name: from_jsonable(hints[f.name], value.get(f.name))
                for f in dataclasses.fields(tp)
                if f.name in value or f.name in required
            }
        )
    return value
