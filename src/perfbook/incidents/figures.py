"""The figures that matter of each artifact, pulled out of the documents perfbook writes (pure).

``figures_for(kind, doc)`` gives the store's figure columns and the timeline's data for a triage
report (``triage --json``), one applied fix (an entry of ``fix --json``), a load run (``load
--json``) and a capacity search (``capacity --json``); ``summary_for`` the one line people read.

    >>> figures_for("load", {"rps": 812.4, "latency": {"p95_s": 0.12}, "error_rate": 0.0,
    ...                      "slo": [{"met": True}], "interrupted": False})["slo_met"]
    True
"""

from __future__ import annotations

from typing import Any

RESOURCE_CODES = ("host.cpu_high", "host.memory_high", "container.cpu_high", "container.memory_high")
LIMIT_FIXES = ("container.update_limits", "redis.set_maxmemory")
_LAYER_OF = {
    "http": "backend",
    "pg": "postgres",
    "pgbouncer": "postgres",
    "redis": "redis",
    "host": "host",
    "process": "process",
    "container": "containers",
    "ws": "websocket",
    "frontend": "frontend",
    "net": "network",
}
_ENDPOINT_LAYERS = ("http", "ws", "frontend")


# the figures an artifact row keeps in columns of its own (for listings without the document)
COLUMNS = (
    "severity",
    "p95_s",
    "p95_subject",
    "error_rate",
    "cpu_pct",
    "memory_pct",
    "db_query_mean_ms",
    "cache_hit_rate",
    "rps",
    "slo_met",
    "action",
    "outcome",
)


def figures_for(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The artifact's figure columns (absent ones None) for ``kind`` = triage | fix | load | capacity."""
    builder = {"triage": _triage, "watch": _triage, "fix": _fix, "load": _load, "capacity": _capacity}.get(
        kind
    )
    return builder(doc) if builder else {}


def _triage(doc: dict[str, Any]) -> dict[str, Any]:
    kpis = doc.get("kpis") or {}
    causes = doc.get("causes") or []
    return {
        "severity": doc.get("severity"),
        "p95_s": kpis.get("p95_s"),
        "p95_subject": kpis.get("p95_subject"),
        "error_rate": kpis.get("error_rate"),
        "cpu_pct": kpis.get("cpu_pct"),
        "memory_pct": kpis.get("memory_pct"),
        "db_query_mean_ms": kpis.get("db_query_mean_ms"),
        "cache_hit_rate": kpis.get("cache_hit_rate"),
        "top_cause": causes[0].get("summary") if causes else None,
        "findings": len(doc.get("findings") or []),
        "causes": len(causes),
    }


def _fix(doc: dict[str, Any]) -> dict[str, Any]:
    outcome = doc.get("outcome") or {}
    verify = doc.get("verify") or {}
    changes = {
        name: [pair.get("before"), pair.get("after")] for name, pair in (outcome.get("figures") or {}).items()
    }
    changes.update({f["finding"]: [f.get("before"), f.get("after")] for f in verify.get("findings") or []})
    changes.update(
        {f"kpis.{k}": [v.get("before"), v.get("after")] for k, v in (verify.get("kpis") or {}).items()}
    )
    after = verify.get("kpis") or {}
    return {
        "action": doc.get("action"),
        "outcome": outcome.get("status"),
        "changes": changes,
        "gone": verify.get("gone"),
        "p95_s": (after.get("p95_s") or {}).get("after"),
        "error_rate": (after.get("error_rate") or {}).get("after"),
    }


def _load(doc: dict[str, Any]) -> dict[str, Any]:
    slo = doc.get("slo")
    return {
        "rps": doc.get("rps"),
        "p95_s": (doc.get("latency") or {}).get("p95_s"),
        "error_rate": doc.get("error_rate"),
        "requests": doc.get("requests"),
        "slo_met": None if not slo else all(v.get("met") for v in slo),
        "interrupted": bool(doc.get("interrupted") or doc.get("aborted")),
    }


def _capacity(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "rps": doc.get("knee_rps"),
        "slo": doc.get("slo"),
        "slo_met": doc.get("knee_rps") is not None,
        "reason": doc.get("reason"),
        "interrupted": False,
    }


def summary_for(kind: str, figures: dict[str, Any]) -> str:
    """One line: ``P2, p95 4.10 s on /api/v1/users, 5xx 0.0 %, top cause: …``."""
    if kind in ("triage", "watch"):  # a watch report is a triage with the rules it ran
        parts = [figures.get("severity") or "severity not measured"]
        if figures.get("p95_s") is not None:
            parts.append(
                f"p95 {figures['p95_s']:.2f} s"
                + (f" on {figures['p95_subject']}" if figures.get("p95_subject") else "")
            )
        if figures.get("error_rate") is not None:
            parts.append(f"5xx {figures['error_rate'] * 100:.1f} %")
        parts.append(
            f"top cause: {short_cause(figures['top_cause'])}"
            if figures.get("top_cause")
            else "no cause joined"
        )
        return ", ".join(parts)
    if kind == "fix":
        moved = [
            f"{k} {_short(b)} → {_short(a)}" for k, (b, a) in list(figures.get("changes", {}).items())[:3]
        ]
        return f"{figures.get('action')} {figures.get('outcome')}" + (
            f" ({'; '.join(moved)})" if moved else ""
        )
    if kind == "load":
        slo = {None: "no SLO", True: "SLO met", False: "SLO missed"}[figures.get("slo_met")]
        p95 = f"p95 {figures['p95_s']:.3f} s" if figures.get("p95_s") is not None else "p95 not measured"
        errors = f"errors {(figures.get('error_rate') or 0) * 100:.1f} %"
        return f"{_short(figures.get('rps'))} rps, {p95}, {errors}, {slo}"
    if kind == "capacity":
        knee = (
            f"knee at {_short(figures['rps'])} rps"
            if figures.get("rps") is not None
            else "no step met the SLO"
        )
        return f"{knee} ({', '.join(figures.get('slo') or []) or 'no SLO'})"
    return kind


def short_cause(summary: str, width: int = 90) -> str:
    """A cause's first clause, for titles and one-line summaries (the whole text stays in the artifact).

    >>> short_cause("GET /a is slow (p95 3.1 s) and nothing else explains it, so the app is; fix: time it")
    'GET /a is slow (p95 3.1 s)'
    """
    text = summary.split(";")[0].strip()
    if len(text) <= width and " and " not in text:
        return text
    for sep in (" and ", ", so ", ", "):
        cut = text.find(sep, 20)
        if cut != -1:
            text = text[:cut]
            break
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def title_from(report: dict[str, Any] | None) -> str:
    """An incident title from a report: its top cause's first clause, else its severity reason."""
    causes = (report or {}).get("causes") or []
    if causes and causes[0].get("summary"):
        return short_cause(causes[0]["summary"])
    return (report or {}).get("severity_reason") or "Performance issue"


def severity_from(report: dict[str, Any] | None) -> str | None:
    """A report's severity when it is P0..P3 (OK or unmeasured: not classified)."""
    severity = (report or {}).get("severity")
    return severity if severity in ("P0", "P1", "P2", "P3") else None


def affected_from(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(endpoints, components) a triage shows in trouble: subjects and layers of its warning / critical findings."""
    endpoints: set[str] = set()
    components: set[str] = set()
    for f in doc.get("findings") or []:
        if f.get("level") not in ("critical", "warning"):
            continue
        prefix = str(f.get("code", "")).split(".")[0]
        components.add(_LAYER_OF.get(prefix, prefix))
        subject = str(f.get("subject") or "")
        if prefix in _ENDPOINT_LAYERS and subject.startswith(("/", "ws:", "wss:", "http:", "https:")):
            endpoints.add(subject)
    return sorted(endpoints), sorted(components)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


# KPI, direction that fails, the count field it needs and how many (runbook "Key Performance Indicators").
_KPI_LIMITS = (
    ("p95_s", ">", None),
    ("error_rate", ">", "error_requests"),
    ("cpu_pct", ">", None),
    ("memory_pct", ">", None),
    ("disk_pct", ">", None),
    ("db_query_mean_ms", ">", None),
    ("cache_hit_rate", "<", "cache_lookups"),
)


_KPI_WORDS = {
    "p95_s": ("p95", 1, " s"),
    "error_rate": ("5xx", 100, " %"),
    "cpu_pct": ("CPU", 1, " %"),
    "memory_pct": ("memory", 1, " %"),
    "disk_pct": ("disk", 1, " %"),
    "db_query_mean_ms": ("mean query time", 1, " ms"),
    "cache_hit_rate": ("cache hit rate", 100, " %"),
}


def failing_kpis(report: dict[str, Any], limits: dict[str, float], *, min_requests: int = 20) -> list[str]:
    """What still fails in ``report``: each KPI past its limit, then critical findings (for ``resolve --verify``)."""
    kpis = report.get("kpis") or {}
    out = []
    for name, op, count_key in _KPI_LIMITS:
        value, limit = kpis.get(name), limits.get(name)
        if value is None or limit is None:
            continue
        needed = 100 if count_key == "cache_lookups" else min_requests
        if count_key and kpis.get(count_key) is not None and kpis[count_key] < needed:
            continue  # too few samples to judge (the report marks it low-confidence)
        if (op == ">" and value > limit) or (op == "<" and value < limit):
            where = f" on {kpis['p95_subject']}" if name == "p95_s" and kpis.get("p95_subject") else ""
            label, scale, unit = _KPI_WORDS[name]
            out.append(
                f"{label} {value * scale:.{2 if unit == ' s' else 1}f}{unit} {op} {limit * scale:g}{unit}{where}"
            )
    critical = [
        f"{f['code']}:{f['subject']}"
        for f in report.get("findings") or []
        if f.get("level") == "critical" and not f.get("low_confidence")
    ]
    if critical:
        out.append(
            f"{len(critical)} critical finding{'s' if len(critical) > 1 else ''}: {', '.join(critical[:3])}"
        )
    return out
