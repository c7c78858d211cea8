"""Build the status page's three files from the store (the document is pure, the writes atomic).

A component's state: for each open incident touching it, what the incident's latest triage says
of the component's endpoints and layers (:func:`~perfbook.statuspage.components.state_from_triage`),
or, before any triage, what its severity implies; the worst over open incidents. Resolved
incidents leave every component ``operational``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from perfbook.config import Config
from perfbook.errors import UsageError
from perfbook.files import write_atomic
from perfbook.incidents.model import Status
from perfbook.incidents.reminders import parse_iso, to_iso
from perfbook.notify.context import IncidentState, external_context, load_state
from perfbook.notify.public import internals_of, public_text
from perfbook.statuspage.components import (
    EVERYTHING,
    LABELS,
    components_of,
    state_for_severity,
    state_from_triage,
    touched,
    worst,
)
from perfbook.store import messages
from perfbook.templating import environment, render, split_subject

INDICATOR = {
    "operational": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
DESCRIPTION = {
    "operational": "All systems operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


def build(store: Any, cfg: Config, out: Path, *, now: dt.datetime | None = None) -> list[Path]:
    """Write index.html, status.json and status.txt into ``out`` (created); the paths written."""
    files = render_files(store, cfg, now=now)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the status page directory {out}: {err.strerror}") from None
    for name, text in files.items():
        write_atomic(out / name, text, what="status page file")
        (out / name).chmod(0o644)  # public: the web server's user reads it (the temp file was 0600)
    return [out / name for name in files]


def render_files(store: Any, cfg: Config, *, now: dt.datetime | None = None) -> dict[str, str]:
    """The three files' texts, each checked for internals (what ``build`` writes and ``serve`` serves)."""
    now = now or dt.datetime.now(dt.UTC)
    states = _states(store, cfg, now)
    doc = page_document(states, cfg, now)
    env = environment(cfg.notify.templates_dir)
    files = {
        "status.json": json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
        "index.html": render(env, "status/index.html.j2", {"page": doc, "labels": LABELS}),
        "status.txt": render(env, "status/status.txt.j2", {"page": doc}),
    }
    internals = internals_of(a.document for s in states for a in s.artifacts)
    for name, text in files.items():  # all checked before any is written
        public_text(text, internals, what=f"the status page's {name}")
    return files


def page_document(states: list[IncidentState], cfg: Config, now: dt.datetime) -> dict[str, Any]:
    """status.json: the page, overall status, components, open incidents with updates, history."""
    comps = components_of(cfg.status.components)
    open_states = [s for s in states if s.incident.status is not Status.RESOLVED]
    comp_states = {c.name: worst([_component_state(c, s) for s in open_states]) for c in comps}
    overall = worst(list(comp_states.values()))
    return {
        "page": {
            "name": cfg.status.title,
            "updated_at": to_iso(now),
            "history_days": cfg.status.history_days,
        },
        "status": {"indicator": INDICATOR[overall], "state": overall, "description": DESCRIPTION[overall]},
        "components": [{"name": c.name, "status": comp_states[c.name]} for c in comps],
        "incidents": [_incident(s, cfg, now) for s in open_states],
        "history": [_incident(s, cfg, now) for s in states if s.incident.status is Status.RESOLVED],
    }


def _component_state(comp: Any, state: IncidentState) -> str:
    inc = state.incident
    hit = comp is EVERYTHING or bool(touched([comp], inc.endpoints, inc.components))
    report = state.latest_triage
    if report is not None:
        return state_from_triage(comp, report)
    return state_for_severity(inc.severity) if hit else "operational"


def _incident(state: IncidentState, cfg: Config, now: dt.datetime) -> dict[str, Any]:
    inc = state.incident
    ctx = external_context(state, cfg, event="update", now=now)
    comps = components_of(cfg.status.components)
    names = [c.name for c in comps if c is EVERYTHING or touched([c], inc.endpoints, inc.components)]
    updates = state.public_updates or [_generated_update(state, cfg, now)]
    return {
        "id": inc.id,
        "name": ctx["title"],
        "status": inc.status.value,
        "impact": inc.impact.value,
        "impact_text": ctx["impact"],
        "created_at": inc.opened_at,
        "resolved_at": inc.resolved_at,
        "components": names,
        "incident_updates": sorted(updates, key=lambda u: u["created_at"], reverse=True),
    }


def _generated_update(state: IncidentState, cfg: Config, now: dt.datetime) -> dict[str, Any]:
    """Before anything was published: the current state in the external status template's words."""
    env = environment(cfg.notify.templates_dir)
    ctx = external_context(state, cfg, event="update", now=now)
    _, body = split_subject(render(env, "messages/external/status.txt.j2", ctx))
    at = state.incident.resolved_at or state.incident.opened_at
    return {"status": state.incident.status.value, "body": body.strip(), "created_at": at}


def _states(store: Any, cfg: Config, now: dt.datetime) -> list[IncidentState]:
    from perfbook.incidents import records

    since = now - dt.timedelta(days=cfg.status.history_days)
    out = []
    for inc in records.list_incidents(store, include_resolved=True, limit=1000):
        if inc.status is Status.RESOLVED and parse_iso(inc.resolved_at or inc.opened_at) < since:
            continue
        state = load_state(store, inc.number)
        out.append(
            IncidentState(
                state.incident, state.events, state.artifacts, state.checklist, _published(store, inc.number)
            )
        )
    return out


def _published(store: Any, number: int) -> list[dict[str, Any]]:
    """The external texts ``incident notify`` published to the status page, oldest first."""
    query = (
        select(messages)
        .where(
            messages.c.incident_id == number,
            messages.c.channel == "status_page",
            messages.c.outcome == "sent",
        )
        .order_by(messages.c.id)
    )
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
    return [
        {
            "status": _status_word(r["event"], r["subject"]),
            "body": (r["body"] or "").strip(),
            "created_at": r["sent_at"],
        }
        for r in rows
    ]


def _status_word(event: str, subject: str | None) -> str:
    if event == "resolved":
        return "resolved"
    word = (subject or "").split(":", 1)[0].strip().lower()
    return word if word in {s.value for s in Status} else "investigating"
