"""Reads of what watch keeps over time: KPI series for sparklines, and the alerts now pending or firing.

A series is averaged into fixed buckets in the database (so a day of 30 s samples is 48 rows, not
2,880); where the raw samples are gone (watch keeps them 24 h), the 5-minute aggregates stand in.
Each point carries how many samples it averages, so a plot can say what it covers.

    points = kpi_series(store, "p95_s", since_s=now - 3600, until_s=now, bucket_s=60)
    firing = active_alerts(store)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, cast, func, select

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


def kpi_series(store: Store, kpi: str, *, since_s: float, until_s: float, bucket_s: int,
               subject: str = "") -> list[Point]:
    """``kpi`` of ``subject`` ("" = the whole stack) from ``since_s`` to ``until_s`` in ``bucket_s`` buckets, oldest first."""
    raw_bucket = cast(kpi_samples.c.at_s / bucket_s, Integer)
    raw = (select(raw_bucket.label("b"), func.avg(kpi_samples.c.value), func.min(kpi_samples.c.value),
                  func.max(kpi_samples.c.value), func.count(kpi_samples.c.value))
           .where(kpi_samples.c.kpi == kpi, kpi_samples.c.subject == subject, kpi_samples.c.at_s >= since_s,
                  kpi_samples.c.at_s < until_s, kpi_samples.c.value.is_not(None))
           .group_by(raw_bucket))
    agg_bucket = cast(kpi_aggregates.c.bucket_start_s / bucket_s, Integer)
    agg = (select(agg_bucket.label("b"), func.avg(kpi_aggregates.c.mean), func.min(kpi_aggregates.c.min),
                  func.max(kpi_aggregates.c.max), func.sum(kpi_aggregates.c.samples))
           .where(kpi_aggregates.c.kpi == kpi, kpi_aggregates.c.subject == subject,
                  kpi_aggregates.c.bucket_start_s >= since_s, kpi_aggregates.c.bucket_start_s < until_s,
                  kpi_aggregates.c.mean.is_not(None))
           .group_by(agg_bucket))

    def run(conn: Any) -> list[Point]:
        points = {int(b): Point(b * bucket_s, m, lo, hi, int(n)) for b, m, lo, hi, n in conn.execute(agg)}
        points.update({int(b): Point(b * bucket_s, m, lo, hi, int(n)) for b, m, lo, hi, n in conn.execute(raw)})
        return [points[b] for b in sorted(points)]
    return store.read(run)


def active_alerts(store: Store) -> list[dict[str, Any]]:
    """Alerts pending or firing, firing first, then by how long they have been active."""
    query = select(alert_states).where(alert_states.c.state.in_(("pending", "firing")))
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
    return sorted(rows, key=lambda r: (r["state"] != "firing", r["active_since_s"] or r["state_since_s"]))
