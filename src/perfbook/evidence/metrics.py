"""What the metrics probe hands the rules, severity and KPIs: field names are the contract.

Every figure is a window delta between two scrapes of the app's Prometheus ``/metrics`` (like
``rate()``), never a lifetime counter; quantiles are ``histogram_quantile`` over bucket deltas.
A quantile that falls in a bucket whose bounds are more than 2x apart is a range (``p95_range_s``),
and its point figure is the range's lower bound: interpolating inside 1.5–10 s invents a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HandlerWindow:
    """One handler (or ``*`` for all) over the window, from counter and histogram deltas."""

    handler: str  # the handler / path / endpoint label, "*" for the total
    method: str | None  # method label; None when the metrics have none
    requests: int  # requests in the window (histogram _count delta, else http_requests_total)
    rate_rps: float  # requests / window_s
    p50_s: float | None = None  # median over the window's bucket deltas
    p95_s: float | None = None  # histogram_quantile over bucket deltas; in a coarse bucket its lower bound
    p99_s: float | None = None  # 99th percentile over the window's bucket deltas
    p95_over_bound: bool = False  # the rank fell in +Inf: p95_s is the top finite bound
    p99_over_bound: bool = False  # the same for p99_s
    #: [lower, upper] s of a coarse bucket (> 2x apart) holding the median
    p50_range_s: list[float] | None = None
    #: [lower, upper] s of the coarse bucket holding the p95: the figure is a range
    p95_range_s: list[float] | None = None
    p99_range_s: list[float] | None = None  # the same for the p99
    errors_5xx: int = 0  # from the status / code label (5xx classes included)
    error_share: float | None = None  # errors_5xx / requests in the window; None without requests
    histogram: str | None = None  # metric family the quantiles came from


@dataclass
class MetricsEvidence:
    """What the metrics probe computed for the window."""

    url: str  # redacted
    window_s: float  # measured time between the two scrapes
    handlers: list[HandlerWindow] = field(default_factory=list)  # every handler seen, per method
    total: HandlerWindow | None = None  # all handlers except metrics_path / health_path
    reset_detected: bool = False  # a counter went down between the scrapes (restart / other worker)
    families: list[str] = field(default_factory=list)  # metric families used
    notes: list[str] = field(default_factory=list)  # e.g. "no http_request_duration_seconds histogram"
    bad_lines: list[str] = field(default_factory=list)  # "line 12: foo{a=b} 1": unparsable lines, left out
    reset_series: list[str] = field(default_factory=list)  # series left out because their counter went down
