"""How incidents look: the JSON documents of ``perfbook incident … --json`` and the terminal page (pure).

``*_to_dict`` build the JSON; ``build_*`` build Rich renderables the CLI prints. Nothing here
reads the store or the clock: the caller passes what it read and ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from perfbook.incidents.checklist import ItemState
from perfbook.incidents.model import Artifact, Event, Incident
from perfbook.incidents.reminders import due_at, overdue_s

_MARK = {"done": "[x]", "na": "n/a", "open": "[ ]"}


def incident_to_dict(inc: Incident, now: dt.datetime, every_min: Mapping[str, float]) -> dict[str, Any]:
    """One incident as JSON, with when its next update is due and whether that is past."""
    late = overdue_s(inc, now, every_min)
    return {
        "id": inc.id,
        "number": inc.number,
        "title": inc.title,
        "status": inc.status.value,
        "severity": inc.severity,
        "impact": inc.impact.value,
        "owner": inc.owner,
        "issue_types": inc.issue_types,
        "endpoints": inc.endpoints,
        "components": inc.components,
        "opened_at": inc.opened_at,
        "resolved_at": inc.resolved_at,
        "updated_at": inc.updated_at,
        "last_update_at": inc.last_update_at,
        "next_update_due": None if inc.resolved_at else due_at(inc.last_update_at, inc.severity, every_min),
        "overdue": late is not None,
        "overdue_s": late,
    }


def show_to_dict(snap: Any, now: dt.datetime, every_min: Mapping[str, float]) -> dict[str, Any]:
    """``incident show --json``: the incident, its checklist, timeline and artifacts (a records.Snapshot)."""
    return {
        "incident": incident_to_dict(snap.incident, now, every_min),
        "checklist": [s.to_dict() for s in snap.checklist],
        "timeline": [event_to_dict(e) for e in snap.timeline],
        "artifacts": [artifact_to_dict(a) for a in snap.artifacts],
    }


def event_to_dict(ev: Event) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": ev.at,
        "kind": ev.kind,
        "actor": ev.actor,
        "summary": ev.summary,
        "data": ev.data,
        "artifact_id": ev.artifact_id,
    }


def artifact_to_dict(art: Artifact) -> dict[str, Any]:
    """An artifact without its document (``show`` lists them; the store keeps the document whole)."""
    return {
        "id": art.id,
        "label": art.label,
        "kind": art.kind,
        "at": art.at,
        "actor": art.actor,
        "summary": art.summary,
    }


def build_list(rows: Sequence[dict[str, Any]]) -> Table | Text:
    """``incident list``: one row per incident, overdue ones marked."""
    if not rows:
        return Text("no incidents")
    table = Table(box=None, pad_edge=False)
    for name in ("id", "severity", "status", "title", "owner", "opened", "next update"):
        table.add_column(name)
    for r in rows:
        due = (
            "—"
            if r["resolved_at"]
            else (f"OVERDUE {_ago(r['overdue_s'])}" if r["overdue"] else r["next_update_due"])
        )
        table.add_row(
            r["id"],
            r["severity"] or "—",
            r["status"],
            r["title"],
            r["owner"],
            short_time(r["opened_at"]),
            Text(due, style="bold red") if r["overdue"] else short_time(due),
        )
    return table


def build_checklist(states: Sequence[ItemState]) -> Table:
    """The 20 items by section: state, who or what ticked each, and any contradiction."""
    table = Table(box=None, pad_edge=False, show_header=True)
    for name in ("#", "", "item", "ticked by", "from"):
        table.add_column(name)
    section = None
    for s in states:
        if s.item.section != section:
            section = s.item.section
            table.add_row("", "", Text(section, style="bold"), "", "")
        source = f"{s.artifact}: {s.why}" if s.artifact else (s.why or "")
        if s.contradicted:
            source = f"{source}  ⚠ contradicted by {s.contradicted}"
        table.add_row(
            str(s.item.number),
            Text(_MARK[s.state]),
            s.item.text,
            s.by or "",
            Text(source, style="bold yellow") if s.contradicted else source,
        )
    return table


def build_timeline(events: Sequence[Event]) -> Table:
    table = Table(box=None, pad_edge=False)
    for name in ("at", "kind", "by", "what"):
        table.add_column(name)
    for ev in events:
        table.add_row(short_time(ev.at), ev.kind, ev.actor, Text(ev.summary))
    return table


def build_header(inc: dict[str, Any]) -> Text:
    """Two or three lines: id and title; severity, status, impact, owner; when the next update is due."""
    due = (
        "resolved " + inc["resolved_at"]
        if inc["resolved_at"]
        else (f"OVERDUE by {_ago(inc['overdue_s'])}" if inc["overdue"] else f"due {inc['next_update_due']}")
    )
    return Text.assemble(
        (f"{inc['id']}  {inc['title']}\n", "bold"),
        f"{inc['severity'] or 'unclassified'} · {inc['status']} · impact {inc['impact']} · "
        f"owner {inc['owner']} · opened {inc['opened_at']}\n",
        ("next update: " + due, "bold red" if inc["overdue"] else ""),
    )


def build_change(doc: dict[str, Any], since_event_id: int) -> Group:
    """What a change command shows: the header and the timeline events it appended."""
    new = [e for e in doc["timeline"] if e["id"] > since_event_id]
    lines = [Text(f"{short_time(e['at'])}  {e['kind']:<8} {e['actor']}: {e['summary']}") for e in new]
    return Group(build_header(doc["incident"]), *lines)


def short_time(iso: str | None) -> str:
    """``2026-12-01T10:00:00Z`` -> ``2026-12-01 10:00:00``."""
    return (iso or "").replace("T", " ").removesuffix("Z")


def build_show(doc: dict[str, Any], states: Sequence[ItemState], events: Sequence[Event]) -> Group:
    """The ``show`` page: header, affected, checklist, timeline."""
    inc = doc["incident"]
    header = build_header(inc)
    affected = ", ".join(inc["endpoints"] + inc["components"]) or "none recorded"
    ticked = sum(1 for s in states if s.state != "open")
    flagged = [s for s in states if s.contradicted]
    parts: list[Any] = [header, Text(f"affected: {affected}"), Text("")]
    parts.append(
        Text(
            f"Checklist ({ticked}/{len(states)} done or n/a"
            + (f", {len(flagged)} contradicted" if flagged else "")
            + ")",
            style="bold",
        )
    )
    parts += [build_checklist(states), Text(""), Text("Timeline", style="bold"), build_timeline(events)]
    return Group(*parts)


def _ago(seconds: float | None) -> str:
    minutes = int((seconds or 0) // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
