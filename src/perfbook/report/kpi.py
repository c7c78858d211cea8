"""The KPI table's rows: each KPI against its threshold -> pass / fail / not measured. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from perfbook.config import Thresholds
from perfbook.model import HISTOGRAM_SOURCES, Kpis, LoopLag, UnreliableFigure
from perfbook.rules.redis import MIN_LOOKUPS as MIN_CACHE_LOOKUPS
from perfbook.units import format_duration, format_duration_range, format_pct


@dataclass(frozen=True)
class KpiRow:
    """One KPI as the report shows it."""

    name: str
    value: str
    target: str
    # "pass" | "fail" | "not measured" | "few samples" (shown, not judged) | "uncertain" (a range across the target)
    status: str


def kpi_rows(k: Kpis, th: Thresholds) -> list[KpiRow]:
    """The runbook's KPIs (throughput is judged by load tests only, so it is not here)."""

    def row(name: str, value: float | None, shown: str, target: str, ok: bool | None) -> KpiRow:
        if value is None:
            return KpiRow(name, "-", target, "not measured")
        return KpiRow(name, shown, target, "pass" if ok else "fail")

    p95 = k.p95_s
    pct = lambda v: "-" if v is None else f"{v:.0f} %"  # noqa: E731
    return [
        _range(
            row(
                "p95 response time",
                p95,
                _p95_text(k),
                f"< {format_duration(th.p95_s)}",
                p95 is not None and p95 < th.p95_s and not (k.p95_over_bound and p95 >= th.p95_s),
            ),
            k,
            th,
        ),
        row(
            "error rate (5xx)",
            k.error_rate,
            f"{format_pct(k.error_rate, 2)} of {k.error_requests}",
            f"< {format_pct(th.error_rate)}",
            k.error_rate is not None and k.error_rate < th.error_rate,
        ),
        row(
            "CPU",
            k.cpu_pct,
            pct(k.cpu_pct),
            f"< {th.cpu_pct:.0f} %",
            k.cpu_pct is not None and k.cpu_pct < th.cpu_pct,
        ),
        row(
            "memory",
            k.memory_pct,
            pct(k.memory_pct),
            f"< {th.memory_pct:.0f} %",
            k.memory_pct is not None and k.memory_pct < th.memory_pct,
        ),
        row(
            "disk",
            k.disk_pct,
            pct(k.disk_pct),
            f"< {th.disk_pct:.0f} %",
            k.disk_pct is not None and k.disk_pct < th.disk_pct,
        ),
        row(
            "mean query time",
            k.db_query_mean_ms,
            "-" if k.db_query_mean_ms is None else f"{k.db_query_mean_ms:.1f} ms",
            f"< {th.db_query_mean_ms:.0f} ms",
            k.db_query_mean_ms is not None and k.db_query_mean_ms < th.db_query_mean_ms,
        ),
        _few(
            row(
                "cache hit rate",
                k.cache_hit_rate,
                f"{format_pct(k.cache_hit_rate)} of {k.cache_lookups} lookups",
                f"> {format_pct(th.cache_hit_rate, 0)}",
                k.cache_hit_rate is not None and k.cache_hit_rate > th.cache_hit_rate,
            ),
            k.cache_lookups,
            MIN_CACHE_LOOKUPS,
        ),
    ]


def _p95_text(k: Kpis) -> str:
    """``2.40 s (/x, metrics)``; a coarse bucket as its range; a timed figure with the metrics' range beside it."""
    if k.p95_range_s and k.p95_source in HISTOGRAM_SOURCES:
        text = format_duration_range(*k.p95_range_s)
    else:
        text = format_duration(k.p95_s) + (" or more" if k.p95_over_bound else "")
    if k.p95_s is not None and k.p95_subject:
        beside = (
            f"; metrics: {format_duration_range(*k.p95_range_s)}"
            if k.p95_range_s and k.p95_source not in HISTOGRAM_SOURCES
            else ""
        )
        text += f" ({k.p95_subject}, {k.p95_source}{beside})"
    return text


def _range(row: KpiRow, k: Kpis, th: Thresholds) -> KpiRow:
    """A p95 known only as a range that passes at its lower bound but not at its upper one is uncertain."""
    if (
        row.status == "pass"
        and k.p95_range_s
        and k.p95_source in HISTOGRAM_SOURCES
        and k.p95_range_s[1] >= th.p95_s
    ):
        return KpiRow(row.name, row.value, row.target, "uncertain")
    return row


def _few(row: KpiRow, count: int | None, needed: int) -> KpiRow:
    """A figure from fewer samples than its rule judges from is shown with its count, not judged."""
    if row.status == "not measured" or count is None or count >= needed:
        return row
    return KpiRow(row.name, row.value, row.target, "few samples")


LAG_SHOWN_MS = 10.0  # a loop that never stalled this long timed everything well enough to say nothing


def loop_lag_line(lag: LoopLag) -> str:
    """``perfbook's own event loop: stalls up to 41 ms (p99 35 ms), 820 ms stalled in 3.1 s``."""
    return (
        f"perfbook's own event loop: stalls up to {lag.max_ms or 0:.0f} ms (p99 {lag.p99_ms or 0:.0f} ms), "
        f"{lag.stalled_ms:.0f} ms stalled in {lag.duration_s:.1f} s — latency timed on it is inflated as much"
    )


def unreliable_line(u: UnreliableFigure) -> str:
    """``redis.latency_high redis://… PING p99 42.0 ms, 3.1 ms without perfbook's stalls (limit 10 ms)``."""
    return (
        f"{u.code} {u.subject}: {u.figure} {u.value:g} {u.unit} as measured, {u.net:g} {u.unit} without "
        f"perfbook's own stalls (limit {u.limit:g} {u.unit}): not raised, the figure is perfbook's"
    )
