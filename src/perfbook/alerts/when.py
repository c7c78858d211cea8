"""The ``when`` of an alert rule: a KPI comparison or a finding code, parsed and checked. Pure.

    >>> parse_when("p95_s > 2")
    KpiCondition(figure='p95_s', op='>', threshold=2.0)
    >>> parse_when("finding pg.blocked_queries")
    FindingCondition(code='pg.blocked_queries')
    >>> parse_when("p95 > 2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown figure 'p95' (allowed: p95_s, error_rate, cpu_pct, memory_pct, disk_pct, ...)

A KPI comparison holds per subject (one endpoint, one container, one mount …); a finding
condition holds for every subject triage reports that finding for. Figures carry their unit, so a
value reads the same in perfbook's messages and in the exported Prometheus annotations.
"""

from __future__ import annotations

import operator
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from perfbook.codes import CODES


@dataclass(frozen=True)
class Figure:
    """A KPI a rule can compare: its unit (``s``, ``share``, ``pct``, ``ms``) and what one subject is."""

    name: str
    unit: str
    per: str
    meaning: str


FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure(
            "p95_s",
            "s",
            "endpoint",
            "window p95 response time of one endpoint (app metrics or timed requests)",
        ),
        Figure(
            "error_rate", "share", "backend", "5xx share of the window's requests (from min_window_requests)"
        ),
        Figure("cpu_pct", "pct", "container or host", "CPU of a container's limit; the host's for the rest"),
        Figure(
            "memory_pct", "pct", "container or host", "memory of a container's limit; the host's for the rest"
        ),
        Figure("disk_pct", "pct", "mount", "used share of one filesystem, as df computes Use%"),
        Figure(
            "db_query_mean_ms", "ms", "database", "mean statement time over the window (pg_stat_statements)"
        ),
        Figure(
            "cache_hit_rate", "share", "redis", "keyspace hits / lookups over the window (from 100 lookups)"
        ),
    )
}

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
TEMPLATE_FIELDS = ("value", "threshold", "subject", "rule", "severity")
SEVERITIES = ("critical", "warning", "info")
ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # what Prometheus takes as an alertname

_COMPARISON = re.compile(
    r"^\s*(?P<figure>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>>=|<=|>|<|==|!=|=)\s*(?P<number>\S+)\s*$"
)
_FINDING = re.compile(r"^\s*finding\s+(?P<code>\S+)\s*$")
ALLOWED = (
    "a KPI comparison like 'p95_s > 2' (figures: "
    + ", ".join(FIGURES)
    + "; operators: > >= < <=) or 'finding CODE' (a finding code such as pg.blocked_queries)"
)


@dataclass(frozen=True)
class KpiCondition:
    """``figure op threshold``: holds for each subject whose figure compares true."""

    figure: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """True when ``value`` is on the alerting side of the threshold."""
        return OPS[self.op](value, self.threshold)

    @property
    def text(self) -> str:
        return f"{self.figure} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class FindingCondition:
    """``finding CODE``: holds for every subject of that finding in a triage."""

    code: str

    @property
    def text(self) -> str:
        return f"finding {self.code}"


Condition = KpiCondition | FindingCondition


def parse_when(text: str) -> Condition:
    """The condition in ``text``; ValueError saying what is wrong and what is allowed."""
    found = _FINDING.match(text)
    if found:
        code = found["code"]
        if code not in CODES:
            near = [c for c in CODES if c.split(".")[0] == code.split(".")[0]]
            hint = (
                f" (codes of that layer: {', '.join(near)})"
                if near
                else " (see docs/alerts.md for the codes)"
            )
            raise ValueError(f"unknown finding code {code!r}{hint}")
        return FindingCondition(code)
    match = _COMPARISON.match(text)
    if not match:
        raise ValueError(f"not a condition: {text!r} (use {ALLOWED})")
    figure, op, number = match["figure"], match["op"], match["number"]
    if figure not in FIGURES:
        raise ValueError(f"unknown figure {figure!r} (allowed: {', '.join(FIGURES)})")
    if op not in OPS:
        raise ValueError(f"operator {op!r} is not allowed (use > >= < <=)")
    try:
        threshold = float(number)
    except ValueError:
        raise ValueError(
            f"threshold {number!r} is not a number (shares are 0-1: error_rate > 0.01)"
        ) from None
    _check_range(figure, threshold)
    return KpiCondition(figure, op, threshold)


def _check_range(figure: str, threshold: float) -> None:
    unit = FIGURES[figure].unit
    if unit == "share" and not 0 <= threshold <= 1:
        raise ValueError(f"{figure} is a share from 0 to 1, got {threshold:g} (1 % is 0.01)")
    if unit == "pct" and not 0 <= threshold <= 100:
        raise ValueError(f"{figure} is a percentage from 0 to 100, got {threshold:g}")
    if threshold < 0:
        raise ValueError(f"{figure} cannot be negative, got {threshold:g}")


# Units of the finding values the default rules show (a finding's own ``unit`` is free text).
FINDING_UNITS = {
    "pg.connections_saturated": "pct",
    "pg.dead_tuples": "share",
    "host.cpu_high": "pct",
    "host.memory_high": "pct",
    "host.disk_high": "pct",
    "container.cpu_high": "pct",
    "container.memory_high": "pct",
    "redis.hit_rate_low": "share",
    "http.error_rate_high": "share",
    "http.slow_response": "s",
    "redis.memory_high": "pct",
    "pg.cache_hit_low": "share",
}


def unit_of(condition: Condition) -> str:
    """The unit a condition's values are written in: the figure's, or the finding's (``count`` by default)."""
    if isinstance(condition, KpiCondition):
        return FIGURES[condition.figure].unit
    return FINDING_UNITS.get(condition.code, "count")


def check_template(text: str) -> None:
    """ValueError unless ``text`` uses only the placeholders of :data:`TEMPLATE_FIELDS` (``{value}`` …).

    >>> check_template("p95 {value} on {subject}")
    >>> check_template("p95 {p95}")
    Traceback (most recent call last):
    ...
    ValueError: unknown placeholder {p95} (allowed: {value} {threshold} {subject} {rule} {severity})
    """
    allowed = " ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as err:
        raise ValueError(f"bad template {text!r}: {err} (write a literal brace as {{{{ or }}}})") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS or spec or conversion:
            raise ValueError(f"unknown placeholder {{{field}}} (allowed: {allowed})")


def value_text(unit: str, value: float | None) -> str:
    """A figure as perfbook writes it in messages (the Prometheus export mirrors these forms).

    >>> value_text("s", 2.4), value_text("share", 0.0123), value_text("pct", 85), value_text("ms", 240.4)
    ('2.40 s', '1.23%', '85.0 %', '240 ms')
    """
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "share":
        return go_percentage(value)
    if unit == "pct":
        return f"{value:.1f} %"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.0f}"


def go_percentage(share: float) -> str:
    """Prometheus' ``humanizePercentage`` (Go's ``%.4g%%`` of the share × 100).

    >>> go_percentage(0.1), go_percentage(0.005), go_percentage(0.123456)
    ('10%', '0.5%', '12.35%')
    """
    return f"{share * 100:.4g}%"  # Go's %g and Python's agree here, exponent form included
