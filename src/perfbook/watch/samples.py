"""What one watch run writes: its ``watch_runs`` row and its KPI samples (pure).

The stack's KPIs (the report's, subject ``""``: what the dashboard plots) and each figure per
subject the alert rules read (one endpoint, one container, one mount). Unmeasured figures are
left out rather than stored as NULL: the series only ever read measured values.
"""

from __future__ import annotations

from typing import Any

from perfbook.alerts.observe import Observation
from perfbook.model import Report

KPIS = ("p95_s", "error_rate", "cpu_pct", "memory_pct", "disk_pct", "db_query_mean_ms", "cache_hit_rate")
COUNTS = {"p95_s": "p95_requests", "error_rate": "error_requests", "cache_hit_rate": "cache_lookups"}
BUCKET_S = 300  # the 5-minute aggregates


def sample_rows(report: Report, obs: Observation, *, at_s: float, run_id: str) -> list[dict[str, Any]]:
    """``kpi_samples`` rows of one run: the stack's KPIs, then each figure per subject."""
    rows = []
    for kpi in KPIS:
        value = getattr(report.kpis, kpi)
        if value is not None:
            count = getattr(report.kpis, COUNTS[kpi]) if kpi in COUNTS else None
            rows.append(
                {
                    "at_s": at_s,
                    "run_id": run_id,
                    "kpi": kpi,
                    "subject": "",
                    "value": float(value),
                    "count": count,
                }
            )
    for item in obs.items:
        if not item.key.startswith("finding ") and item.value is not None and item.subject:
            rows.append(
                {
                    "at_s": at_s,
                    "run_id": run_id,
                    "kpi": item.key,
                    "subject": item.subject,
                    "value": float(item.value),
                    "count": item.count,
                }
            )
    return rows


def run_row(report: Report, *, at_s: float, duration_s: float, run_id: str) -> dict[str, Any]:
    """The ``watch_runs`` row: severity, findings (code, subject, level, value), probe statuses."""
    return {
        "run_id": run_id,
        "started_at_s": at_s,
        "duration_s": duration_s,
        "severity": report.severity.value if report.severity is not None else None,
        "findings": [
            {"code": f.code, "subject": f.subject, "level": f.level.value, "value": f.value}
            for f in report.findings
        ],
        "probes": {name: ev.status for name, ev in report.probes.items()},
    }


def bucket_start(at_s: float, bucket_s: int = BUCKET_S) -> float:
    """The start of the aggregate bucket holding ``at_s``.

    >>> bucket_start(1000.0), bucket_start(1199.9)
    (900.0, 900.0)
    """
    return float(int(at_s // bucket_s) * bucket_s)


def report_identity(report: Report) -> tuple[Any, ...]:
    """What makes a report news for the dashboard: its severity and its warning and critical findings
    (an info finding coming and going is not worth another stored report)."""
    return (
        report.severity,
        tuple(sorted((f.key, f.level.value) for f in report.findings if f.level.value != "info")),
    )
