"""Reads of what watch keeps over time: KPI series for sparklines, and the alerts now pending or firing.

A series is averaged into fixed buckets in the database (so a day of 30 s samples is 48 rows, not
2,880); where the raw samples are gone (watch keeps them 24 h), the 5-minute aggregates stand in.
Each point carries how many samples it averages, so a plot can say what it covers.

    series = kpi_series(store, ["p95_s", "cpu_pct"], since_s=now - 3600, until_s=now, bucket_s=60)
    firing = active_alerts(store)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, cast, func, select

from perfbook.store.engine import Store
from perfbook.store.schema import alert_states, kpi_aggregates, kpi_samples


@dataclass(frozen=True)
class Point:
    """One bucket of a KPI series: its start (Unix s), the mean, min and max, and how many samples."""

    t_s: float
    mean: float
    low: float
    high: float
    samples: int


def _bucketed(table: Any, at: Any, value: Any, low: Any, high: Any, count: Any) -> Any:
    """avg / min / max / samples of ``kpi``s in ``[since_s, until_s)`` per (kpi, bucket), bound parameters only."""
    bucket = cast(at / bindparam("bucket_s"), Integer)
    return (
        select(table.c.kpi, bucket.label("b"), func.avg(value), func.min(low), func.max(high), count)
        .where(
            table.c.kpi.in_(bindparam("kpis", expanding=True)),
            table.c.subject == bindparam("subject"),
            at >= bindparam("since_s"),
            at < bindparam("until_s"),
            value.is_not(None),
        )
        .group_by(table.c.kpi, bucket)
    )


# built once: SQLAlchemy then reuses the compiled statements (a page draws 14 series per request)
_RAW = _bucketed(
    kpi_samples,
    kpi_samples.c.at_s,
    kpi_samples.c.value,
    kpi_samples.c.value,
    kpi_samples.c.value,
    func.count(kpi_samples.c.value),
)
_AGG = _bucketed(
    kpi_aggregates,
    kpi_aggregates.c.bucket_start_s,
    kpi_aggregates.c.mean,
    kpi_aggregates.c.min,
    kpi_aggregates.c.max,
    func.sum(kpi_aggregates.c.samples),
)


def kpi_series(
    store: Store, kpis: Sequence[str], *, since_s: float, until_s: float, bucket_s: int, subject: str = ""
) -> dict[str, list[Point]]:
    """Each of ``kpis`` for ``subject`` ("" = the whole stack) from ``since_s`` to ``until_s`` in ``bucket_s``
    buckets, oldest first (two statements however many KPIs)."""
    params = {
        "kpis": list(kpis),
        "subject": subject,
        "since_s": since_s,
        "until_s": until_s,
        "bucket_s": bucket_s,
    }

    def run(conn: Any) -> dict[str, list[Point]]:
        found: dict[str, dict[int, Point]] = {k: {} for k in kpis}
        for query in (_AGG, _RAW):  # raw samples win over the aggregates of the same bucket
            for kpi, b, mean, low, high, n in conn.execute(query, params):
                found[kpi][int(b)] = Point(b * bucket_s, mean, low, high, int(n))
        return {k: [points[b] for b in sorted(points)] for k, points in found.items()}

    return store.read(run)


def active_alerts(store: Store) -> list[dict[str, Any]]:
    """Alerts pending or firing, firing first, then by how long they have been active."""
    query = select(alert_states).where(alert_states.c.state.in_(("pending", "firing")))
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
    return sorted(rows, key=lambda r: (r["state"] != "firing", r["active_since_s"] or r["state_since_s"]))
