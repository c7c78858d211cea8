"""The postmortem of an incident (``perfbook incident report ID``): Markdown or one self-contained HTML file.

Written from the record alone: summary, impact (duration, severity over time, affected endpoints,
requests affected as far as the metrics of the attached triages tell — a range with its
coverage, never a point), the whole timeline, root causes from the triages with their evidence,
fixes with before / after, load results, KPIs over the incident as plots, the checklist, and
follow-ups (notes marked ``--followup`` and the items still open). Pure but for the plot.

    ctx = postmortem_context(state, cfg, now=now)
    html = render_postmortem(state, cfg, "html", now=now)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from perfbook.config import Config
from perfbook.incidents.figures import figures_for, summary_for
from perfbook.incidents.model import Status
from perfbook.incidents.reminders import parse_iso, to_iso
from perfbook.model import Kpis, from_jsonable
from perfbook.notify.context import IncidentState, fixes_of
from perfbook.report.kpi import kpi_rows
from perfbook.report.plots import MISSING_EXTRA, kpi_plot_uri, kpi_series, plots_available
from perfbook.templating import environment, render
from perfbook.units import format_duration

FORMATS = ("md", "html")


def render_postmortem(state: IncidentState, cfg: Config, fmt: str, *, now: dt.datetime) -> str:
    """The postmortem as ``md`` or ``html`` (a self-contained page: inline CSS, the plot embedded)."""
    env = environment(cfg.notify.templates_dir)
    return render(env, f"report/postmortem.{fmt}.j2", postmortem_context(state, cfg, now=now))


def postmortem_context(state: IncidentState, cfg: Config, *, now: dt.datetime) -> dict[str, Any]:
    """Everything the postmortem templates show."""
    inc = state.incident
    end = parse_iso(inc.resolved_at) if inc.resolved_at else now
    duration_s = (end - parse_iso(inc.opened_at)).total_seconds()
    triages = state.of_kind("triage")
    last = triages[-1].document if triages else None
    return {
        "incident": inc,
        "resolved": inc.status is Status.RESOLVED,
        "now": to_iso(now),
        "duration": format_duration(duration_s),
        "duration_s": duration_s,
        "severity_history": severity_history(state),
        "worst_severity": _worst(state),
        "requests": requests_affected(state, duration_s),
        "timeline": [
            {"at": e.at, "kind": e.kind, "actor": e.actor, "summary": e.summary} for e in state.events
        ],
        "causes": causes_of(state),
        "fixes": fixes_of(state),
        "loads": [
            {"label": a.label, "at": a.at, "summary": summary_for(a.kind, figures_for(a.kind, a.document))}
            for a in state.artifacts
            if a.kind in ("load", "capacity")
        ],
        "kpis_first": _kpis(triages[0].document, cfg) if triages else [],
        "kpis_last": _kpis(last, cfg) if last else [],
        "plot": kpi_plot_uri(kpi_series(triages), cfg.thresholds),
        "plot_note": None if plots_available() else MISSING_EXTRA,
        "checklist": [s.to_dict() for s in state.checklist],
        "followups": followups(state),
    }


def severity_history(state: IncidentState) -> list[dict[str, Any]]:
    """``[{at, severity, why}]``: the opening severity, then each change."""
    out = []
    for e in state.events:
        if e.kind == "opened":
            out.append({"at": e.at, "severity": e.data.get("severity") or "unclassified", "why": "opened"})
        elif e.kind == "severity":
            out.append({"at": e.at, "severity": e.data.get("to"), "why": e.data.get("reason") or ""})
    return out


def requests_affected(state: IncidentState, duration_s: float) -> dict[str, Any] | None:
    """What the app's metrics in the triage windows tell: requests and 5xx seen, and the rate range.

    The windows sample the incident: the whole-incident figure is a range from the lowest to the
    highest rate seen, with the share of the incident the windows covered.
    """
    seen = errors = 0
    window_s = 0.0
    rates = []
    for art in state.of_kind("triage"):
        metrics = ((art.document.get("probes") or {}).get("metrics") or {}).get("evidence") or {}
        total = metrics.get("total") or {}
        if not total.get("requests"):
            continue
        seen += int(total["requests"])
        errors += int(total.get("errors_5xx") or 0)
        window_s += float(metrics.get("window_s") or 0)
        if total.get("rate_rps"):
            rates.append(float(total["rate_rps"]))
    if not seen:
        return None
    low, high = (min(rates) * duration_s, max(rates) * duration_s) if rates else (None, None)
    return {
        "seen": seen,
        "errors_5xx": errors,
        "window_s": window_s,
        "coverage": min(1.0, window_s / duration_s) if duration_s > 0 else None,
        "low": low,
        "high": high,
    }


def causes_of(state: IncidentState) -> list[dict[str, Any]]:
    """Root causes from the attached triages that found a problem (each once, its best confidence), with evidence."""
    best: dict[str, dict[str, Any]] = {}
    triages = state.of_kind("triage")
    # an all-clear triage's causes are the noise of a healthy stack, not this incident's
    troubled = [a for a in triages if a.document.get("severity") in ("P0", "P1", "P2", "P3")] or triages
    for art in troubled:
        for cause in art.document.get("causes") or []:
            summary = cause.get("summary") or ""
            entry = best.get(summary)
            if entry is None or (cause.get("confidence") or 0) > entry["confidence"]:
                action = cause.get("action") or {}
                best[summary] = {
                    "summary": summary,
                    "confidence": cause.get("confidence") or 0,
                    "findings": cause.get("findings") or [],
                    "reasons": cause.get("reasons") or [],
                    "fix": action.get("command") or action.get("summary"),
                    "from": art.label,
                }
    return sorted(best.values(), key=lambda c: -c["confidence"])


def followups(state: IncidentState) -> list[dict[str, Any]]:
    """Notes marked ``--followup``, then the checklist items nobody ticked yet."""
    notes = [
        {"text": e.summary, "at": e.at, "actor": e.actor, "kind": "note"}
        for e in state.events
        if e.kind == "note" and e.data.get("followup")
    ]
    items = [
        {"text": f"{s.item.number}. {s.item.text}", "kind": "checklist"}
        for s in state.checklist
        if s.state == "open"
    ]
    return notes + items


def _kpis(doc: dict[str, Any], cfg: Config) -> list[Any]:
    return kpi_rows(from_jsonable(Kpis, doc["kpis"]), cfg.thresholds) if doc.get("kpis") else []


def _worst(state: IncidentState) -> str:
    seen = [h["severity"] for h in severity_history(state) if h["severity"] in ("P0", "P1", "P2", "P3")]
    return min(seen) if seen else "unclassified"
