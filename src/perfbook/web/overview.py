"""What the Overview shows, read from the store in one go: the latest triage, KPIs over time, alerts, open incidents.

The banner is the newest triage's severity and the finding that set it (a triage stored by the
pages, the API, ``--incident``, or watch). Each KPI is that triage's value against its target,
with two sparklines from watch's history (the last hour in 1-minute buckets, the last day in
30-minute ones); a KPI watch never sampled shows "no samples". Causes come with their first fix,
open incidents with whether their next update is overdue.

    doc = overview(cfg, store, now=time.time())
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from perfbook.config import Config
from perfbook.incidents import artifacts
from perfbook.model import Kpis, from_jsonable
from perfbook.report.kpi import kpi_rows
from perfbook.store import Store
from perfbook.store.history import active_alerts, kpi_series
from perfbook.web.svg import sparkline

# (the KPI row's name in report.kpi, its kpi_samples name = its Thresholds field)
KPI_SERIES = (
    ("p95 response time", "p95_s"),
    ("error rate (5xx)", "error_rate"),
    ("CPU", "cpu_pct"),
    ("memory", "memory_pct"),
    ("disk", "disk_pct"),
    ("mean query time", "db_query_mean_ms"),
    ("cache hit rate", "cache_hit_rate"),
)
RANGES = (("hour", 3600, 60), ("day", 86400, 1800))
LEVELS = ("critical", "warning", "info")
REPORT_KINDS = ("triage", "watch")


def overview(cfg: Config, store: Store, *, now: float, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Overview's document (also ``GET /api/v1/overview``); ``cache`` keeps what cannot change between
    requests: closed sparkline buckets, and the latest report with what is taken from it."""
    from perfbook.incidents.records import list_incidents
    from perfbook.incidents.views import incident_to_dict

    latest = artifacts.latest_artifact(store, REPORT_KINDS, cache=cache)
    parts = report_parts(cfg, latest, cache)
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    return {
        "triage": parts["triage"],
        "kpis": kpi_table(cfg, store, parts["rows"], now, cache),
        "alerts": [alert_to_dict(a) for a in active_alerts(store)],
        "causes": parts["causes"],
        "findings": parts["findings"],
        "incidents": [
            incident_to_dict(i, when, cfg.incident.update_every_min) for i in list_incidents(store, limit=20)
        ],
    }


def report_parts(cfg: Config, latest: Any, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the Overview shows of the latest report: its head, KPI rows by name, top causes, findings.
    Kept in ``cache`` with the report's id (a stored artifact never changes; the thresholds neither)."""
    known = cache.get("overview-report") if cache is not None and latest is not None else None
    if known is not None and known[0] == latest.artifact.id:
        return known[1]
    report = latest.artifact.document if latest else None
    rows = (
        {r.name: r for r in kpi_rows(from_jsonable(Kpis, report["kpis"]), cfg.thresholds)} if report else {}
    )
    parts = {
        "triage": _triage_head(latest, report),
        "rows": rows,
        "causes": [_cause(c) for c in (report or {}).get("causes", [])[:3]],
        "findings": [_finding(f) for f in (report or {}).get("findings", []) if f.get("level") != "info"][:8],
    }
    if cache is not None and latest is not None:
        cache["overview-report"] = (latest.artifact.id, parts)
    return parts


def _triage_head(latest: Any, report: dict[str, Any] | None) -> dict[str, Any] | None:
    if latest is None or report is None:
        return None
    return {
        "id": latest.artifact.id,
        "at": latest.artifact.at,
        "kind": latest.artifact.kind,
        "incident": latest.incident,
        "severity": report.get("severity"),
        "severity_reason": report.get("severity_reason"),
        "issue_types": report.get("issue_types") or [],
        "started_at": report.get("started_at"),
        "window_s": report.get("window_s"),
    }


def kpi_table(
    cfg: Config, store: Store, rows: dict[str, Any], now: float, cache: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Each KPI: the latest triage's value against target (``rows``: the report's KPI rows by name), and its
    history as sparklines."""
    names = [kpi for _, kpi in KPI_SERIES]
    series = {
        label: cached_series(store, cache, label, names, since_s=now - span_s, now=now, bucket_s=bucket_s)
        for label, span_s, bucket_s in RANGES
    }
    out = []
    for name, kpi in KPI_SERIES:
        row = rows.get(name)
        target = getattr(cfg.thresholds, kpi)
        sparks = {}
        for label, _, _ in RANGES:
            points = tuple((p.t_s, p.mean, p.low, p.high, p.samples) for p in series[label][kpi])
            sparks[label] = {
                "samples": sum([p[4] for p in points]),
                "svg": _sparkline(
                    points, target, f"{name}, last {label}: {len(points)} buckets, dashed line = target"
                ),
            }
        out.append(
            {
                "name": name,
                "kpi": kpi,
                "value": row.value if row else "-",
                "target": row.target if row else "-",
                "status": row.status if row else "not measured",
                "sparklines": sparks,
            }
        )
    return out


@functools.lru_cache(maxsize=64)
def _sparkline(points: tuple[tuple[float, float, float, float, int], ...], target: float, label: str) -> str:
    """:func:`sparkline`, drawn once per series: between two watch runs a refresh draws the same 14 figures."""
    return sparkline([p[:4] for p in points], target=target, label=label)


GRACE_S = 120  # a bucket is final this long after it ends: a watch run stores its samples after it started


def cached_series(
    store: Store,
    cache: dict[str, Any] | None,
    label: str,
    kpis: list[str],
    *,
    since_s: float,
    now: float,
    bucket_s: int,
) -> dict[str, list[Any]]:
    """:func:`kpi_series` with the buckets that can no longer change kept in ``cache``: a refresh reads only
    the last bucket or two, not a day of samples (the same points as a full read)."""
    if cache is None:
        return kpi_series(store, kpis, since_s=since_s, until_s=now + 1, bucket_s=bucket_s)
    final_until = (int(now - GRACE_S) // bucket_s) * bucket_s  # buckets that ended before this are final
    key = f"series:{label}:{bucket_s}:{','.join(kpis)}"
    closed_until, closed = cache.get(key, (None, None))
    if closed is None or closed_until < since_s:
        closed = kpi_series(store, kpis, since_s=since_s, until_s=final_until, bucket_s=bucket_s)
        closed_until = final_until
    elif closed_until < final_until:
        more = kpi_series(store, kpis, since_s=closed_until, until_s=final_until, bucket_s=bucket_s)
        closed = {k: closed[k] + more[k] for k in kpis}
        closed_until = final_until
    closed = {k: [p for p in points if p.t_s > since_s - bucket_s] for k, points in closed.items()}
    cache[key] = (closed_until, closed)
    fresh = kpi_series(store, kpis, since_s=closed_until, until_s=now + 1, bucket_s=bucket_s)
    return {k: closed[k] + fresh[k] for k in kpis}


def alert_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": row["rule"],
        "subject": row["subject"],
        "state": row["state"],
        "severity": row["severity"],
        "value": row["value"],
        "threshold": row["threshold"],
        "since": _iso(row["active_since_s"] or row["state_since_s"]),
        "summary": (row.get("annotations") or {}).get("summary"),
    }


def _cause(c: dict[str, Any]) -> dict[str, Any]:
    action = c.get("action") or {}
    return {
        "summary": c.get("summary"),
        "confidence": c.get("confidence"),
        "findings": c.get("findings") or [],
        "fix": action.get("command"),
        "fix_summary": action.get("summary"),
        "manual": action.get("manual"),
    }


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": f.get("code"),
        "level": f.get("level"),
        "subject": f.get("subject"),
        "title": f.get("title"),
    }


def _iso(seconds: float | None) -> str | None:
    return (
        None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def report_view(doc: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """A stored report as the Triage page shows it: findings by level, causes, KPIs, probes."""
    by_level = {level: [f for f in doc.get("findings") or [] if f.get("level") == level] for level in LEVELS}
    kpis = kpi_rows(from_jsonable(Kpis, doc["kpis"]), cfg.thresholds) if doc.get("kpis") else []
    probes = [
        {"name": n, **{k: v for k, v in (p or {}).items() if k in ("status", "duration_s", "reason")}}
        for n, p in (doc.get("probes") or {}).items()
    ]
    return {
        "report": doc,
        "by_level": by_level,
        "kpis": kpis,
        "probes": probes,
        "causes": [
            {**_cause(c), "reasons": c.get("reasons") or [], "action": c.get("action")}
            for c in doc.get("causes") or []
        ],
    }
