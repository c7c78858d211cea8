"""What messages, the status page and the postmortem are written from: an incident's state (pure but one loader).

:func:`load_state` reads an incident, its timeline, artifacts and checklist from the store (the
one I/O here). :func:`internal_context` gives templates everything a responder needs; the
external one (:func:`external_context`) only what users experience, in plain words — no
endpoint, cause, finding or figure of the evidence reaches it.

    state = load_state(store, 7)
    ctx = internal_context(state, cfg, event="update", now=now)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from perfbook.config import Config
from perfbook.incidents.checklist import ItemState
from perfbook.incidents.figures import figures_for, summary_for
from perfbook.incidents.model import Artifact, Event, Incident, Status, severity_rank
from perfbook.incidents.reminders import due_at, to_iso
from perfbook.model import Kpis, from_jsonable
from perfbook.redact import mask_query
from perfbook.report.kpi import kpi_rows
from perfbook.statuspage.components import components_of, touched


@dataclass(frozen=True)
class IncidentState:
    """An incident with everything recorded about it, oldest first."""

    incident: Incident
    events: list[Event]
    artifacts: list[Artifact]
    checklist: list[ItemState]
    public_updates: list[dict[str, Any]] = field(default_factory=list)  # what the status page published

    def of_kind(self, kind: str) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == kind]

    @property
    def latest_triage(self) -> dict[str, Any] | None:
        triages = self.of_kind("triage")
        return triages[-1].document if triages else None

    @property
    def worst_triage(self) -> dict[str, Any] | None:
        """The first of the triages with the worst severity: what the incident was."""
        triages = self.of_kind("triage")
        if not triages:
            return None
        return min(triages, key=lambda a: (severity_rank(a.document.get("severity")), a.id)).document


def load_state(store: Any, number: int) -> IncidentState:
    """The incident ``number`` as the store holds it now (a usage error for an unknown id)."""
    from perfbook.incidents import records

    return IncidentState(
        records.get_incident(store, number),
        records.timeline(store, number),
        records.artifacts_of(store, number),
        records.checklist_of(store, number),
    )


def internal_context(
    state: IncidentState, cfg: Config, *, event: str, now: dt.datetime, message: str | None = None
) -> dict[str, Any]:
    """Severity, status, impact, endpoints, KPIs against target, causes, fixes, owner, next update, commands."""
    inc = state.incident
    report = state.latest_triage or {}
    worst = state.worst_triage or {}  # the causes and the reason are the incident's, not the all-clear's
    kpis = (
        kpi_rows(_masked(from_jsonable(Kpis, report["kpis"])), cfg.thresholds) if report.get("kpis") else []
    )
    causes = [
        {"summary": c.get("summary"), "confidence": c.get("confidence")}
        for c in (worst.get("causes") or [])[:3]
    ]
    return {
        "event": event,
        "incident": _incident(inc),
        "message": message,
        "kpis": kpis,
        "causes": causes,
        "severity_reason": worst.get("severity_reason"),
        "fixes": fixes_of(state),
        "loads": [
            {"label": a.label, "summary": summary_for(a.kind, figures_for(a.kind, a.document))}
            for a in state.artifacts
            if a.kind in ("load", "capacity")
        ],
        "next_update": None
        if inc.status is Status.RESOLVED
        else due_at(inc.last_update_at, inc.severity, cfg.incident.update_every_min),
        "recent": [
            {"at": e.at, "kind": e.kind, "summary": e.summary} for e in state.events if e.kind != "message"
        ][-5:],
        "checklist_done": sum(1 for s in state.checklist if s.state != "open"),
        "checklist_total": len(state.checklist),
        "commands": commands_for(inc.id),
        "now": to_iso(now),
    }


def fixes_of(state: IncidentState) -> list[dict[str, Any]]:
    """Each applied fix: action, outcome and each figure's before / after."""
    out = []
    for art in state.of_kind("fix"):
        figures = figures_for("fix", art.document)
        changes = [
            {"name": k, "before": b, "after": a} for k, (b, a) in (figures.get("changes") or {}).items()
        ]
        out.append(
            {
                "label": art.label,
                "at": art.at,
                "action": figures.get("action"),
                "outcome": figures.get("outcome"),
                "changes": changes,
            }
        )
    return out


def commands_for(incident_id: str) -> list[str]:
    """What a responder runs to see more."""
    return [
        f"perfbook incident show {incident_id}",
        f"perfbook triage --incident {incident_id}",
        f"perfbook incident report {incident_id} --format html -o {incident_id}.html",
    ]


# ---- external: what users experience, in plain words -------------------------------------------

_DOING = {
    Status.INVESTIGATING: "We are investigating the cause.",
    Status.IDENTIFIED: "We have found the cause and are working on a fix.",
    Status.MONITORING: "A fix is in place and we are watching the results.",
    Status.RESOLVED: "This is resolved: everything works normally again.",
}
_IMPACT = {
    "none": "Few users should notice it.",
    "minor": "Some users may notice it.",
    "major": "Many users are affected.",
    "critical": "Most users are affected.",
}


def external_context(
    state: IncidentState, cfg: Config, *, event: str, now: dt.datetime, message: str | None = None
) -> dict[str, Any]:
    """The service, features touched, what users experience, since when, what is being done, next update."""
    inc = state.incident
    features = features_of(inc, cfg)
    experience = experience_of(inc, state.latest_triage, cfg)
    resolved = inc.status is Status.RESOLVED
    return {
        "event": event,
        "service": cfg.notify.service,
        "team": cfg.notify.team,
        "features": features,
        "features_text": join_words(features) if features else cfg.notify.service,
        "experience": experience,
        "title": public_title(experience, features, cfg.notify.service),
        "status": inc.status.value,
        "status_label": inc.status.value.capitalize(),
        "doing": _DOING[inc.status],
        "impact": _IMPACT.get(inc.impact.value, ""),
        "since": inc.opened_at,
        "resolved_at": inc.resolved_at,
        "resolved": resolved,
        "message": message,
        "now": to_iso(now),
        "next_update": None
        if resolved
        else due_at(inc.last_update_at, inc.severity, cfg.incident.update_every_min),
    }


def features_of(inc: Incident, cfg: Config) -> list[str]:
    """The status-page components the incident touches (none when only the catch-all would)."""
    if not cfg.status.components:
        return []
    return [c.name for c in touched(components_of(cfg.status.components), inc.endpoints, inc.components)]


def experience_of(inc: Incident, report: dict[str, Any] | None, cfg: Config) -> str:
    """``slower responses`` / ``errors on some requests`` / ``the service not answering``."""
    kpis = (report or {}).get("kpis") or {}
    codes = {f.get("code") for f in (report or {}).get("findings") or []}
    if codes & {"http.unreachable", "http.health_failed"} or inc.severity == "P0":
        return "the service not answering or failing for most requests"
    errors = kpis.get("error_rate")
    if errors is not None and errors >= cfg.thresholds.error_rate:
        return "errors on some requests and slower responses"
    return "slower responses than usual"


def public_title(experience: str, features: list[str], service: str) -> str:
    """``Slower responses than usual on the API``."""
    where = join_words(features) if features else service
    return f"{experience[0].upper()}{experience[1:]} on {where}"


def join_words(words: list[str]) -> str:
    """``["API", "Web app"]`` -> ``API and Web app``.

    >>> join_words(["API", "Web app", "Realtime"])
    'API, Web app and Realtime'
    """
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _masked(kpis: Kpis) -> Kpis:
    """Query values (an e-mail address in ``?email=``) never reach a message."""
    if kpis.p95_subject:
        kpis.p95_subject = mask_query(kpis.p95_subject)
    return kpis


def _incident(inc: Incident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "number": inc.number,
        "title": inc.title,
        "severity": inc.severity or "unclassified",
        "status": inc.status.value,
        "impact": inc.impact.value,
        "owner": inc.owner,
        "opened_at": inc.opened_at,
        "resolved_at": inc.resolved_at,
        "endpoints": [mask_query(e) for e in inc.endpoints],
        "components": inc.components,
        "issue_types": inc.issue_types,
    }
