"""Service-level objectives for load tests: parse ``'p95<2s,errors<1%,rps>1000'`` and judge a result.

Latency objectives use the corrected latency (what a user waiting on the schedule saw).
``errors`` is (transport errors + 5xx) / requests; ``rps`` is responses per second.
``kpi`` stands for the runbook's KPIs from config: p95 < thresholds.p95_s,
errors < thresholds.error_rate, rps > thresholds.throughput_rps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from perfbook.errors import UsageError

LATENCY_KEYS = {
    "mean": "mean_s",
    "p50": "p50_s",
    "p90": "p90_s",
    "p95": "p95_s",
    "p99": "p99_s",
    "p999": "p999_s",
    "max": "max_s",
}
_ITEM = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*([0-9.]+)\s*(ms|us|µs|s|%)?\s*$")
_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "%": 0.01, None: 1.0}


@dataclass(frozen=True)
class Objective:
    """One ``metric op value`` term, value in base units (seconds, a 0–1 share, rps)."""

    metric: str
    op: str
    value: float

    def text(self) -> str:
        """The objective as a person writes it (``p95<2s``)."""
        if self.metric == "errors":
            return f"errors{self.op}{self.value * 100:g}%"
        if self.metric in LATENCY_KEYS:
            return f"{self.metric}{self.op}{format_seconds(self.value)}"
        return f"{self.metric}{self.op}{self.value:g}"


@dataclass(frozen=True)
class Verdict:
    """An objective and whether a run met it."""

    objective: Objective
    actual: float | None
    met: bool

    def to_json(self) -> dict[str, Any]:
        o = self.objective
        return {
            "objective": o.text(),
            "metric": o.metric,
            "op": o.op,
            "threshold": o.value,
            "actual": self.actual,
            "met": self.met,
        }


def format_seconds(value_s: float) -> str:
    """``0.25`` → ``'250ms'``, ``2.0`` → ``'2s'``.

    >>> format_seconds(0.25), format_seconds(2.0), format_seconds(0.0005)
    ('250ms', '2s', '500us')
    """
    if value_s >= 1:
        return f"{value_s:g}s"
    if value_s >= 1e-3:
        return f"{value_s * 1e3:g}ms"
    return f"{value_s * 1e6:g}us"


def parse_slo(text: str, kpi: tuple[float, float, float] | None = None) -> list[Objective]:
    """Parse an SLO string; ``kpi`` = (p95_s, error_rate, throughput_rps) for the word ``kpi``.

    >>> [o.text() for o in parse_slo("p95<2s,errors<1%,rps>1000")]
    ['p95<2s', 'errors<1%', 'rps>1000']
    """
    objectives: list[Objective] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item == "kpi":
            if kpi is None:
                raise UsageError("--slo kpi needs the config's thresholds")
            p95_s, error_rate, throughput_rps = kpi
            objectives += [
                Objective("p95", "<", p95_s),
                Objective("errors", "<", error_rate),
                Objective("rps", ">", throughput_rps),
            ]
            continue
        objectives.append(_parse_item(item))
    if not objectives:
        raise UsageError(f"--slo: no objectives in {text!r}", hint="e.g. --slo 'p95<2s,errors<1%,rps>1000'")
    return objectives


def _parse_item(item: str) -> Objective:
    match = _ITEM.match(item)
    hint = "e.g. p95<2s, p99<500ms, errors<1%, rps>1000, or kpi"
    if not match:
        raise UsageError(f"--slo: cannot read {item!r}", hint=hint)
    metric, op, number, unit = match.groups()
    value = float(number) * _SCALE[unit]
    if metric in LATENCY_KEYS:
        if unit == "%":
            raise UsageError(f"--slo: {item!r}: a latency needs s, ms or us", hint=hint)
        if unit is None:
            raise UsageError(f"--slo: {item!r}: give a unit (s, ms, us)", hint=hint)
    elif metric == "errors":
        if unit not in ("%", None):
            raise UsageError(f"--slo: {item!r}: errors is a share (1% or 0.01)", hint=hint)
    elif metric != "rps":
        raise UsageError(f"--slo: unknown metric {metric!r}", hint=hint)
    return Objective(metric, op, value)


def judge(objectives: list[Objective], result: dict[str, Any]) -> list[Verdict]:
    """Judge a result's JSON form (``LoadResult.to_json()``) against each objective."""
    verdicts = []
    for o in objectives:
        if o.metric in LATENCY_KEYS:
            actual = result["latency"][LATENCY_KEYS[o.metric]]
        elif o.metric == "errors":
            actual = result["error_rate"]
        else:
            actual = result["rps"]
        met = actual is not None and _compare(actual, o.op, o.value)
        if o.metric in LATENCY_KEYS and result.get("responses", 0) == 0:
            met = False  # no response at all is never a met latency objective
        verdicts.append(Verdict(o, actual, met))
    return verdicts


def _compare(actual: float, op: str, value: float) -> bool:
    return {"<": actual < value, "<=": actual <= value, ">": actual > value, ">=": actual >= value}[op]
