"""Incidents in the store: open, change, note, tick, attach evidence, resolve, reopen, read.

Every change is one write transaction that also appends its timeline event, so the record and its
history never disagree; the incident row is locked (``FOR UPDATE`` on PostgreSQL, the write lock
on SQLite) while it changes. Raises :class:`~perfbook.errors.NotFoundError` for an unknown id and
:class:`~perfbook.errors.ConflictError` for a change the state machine refuses (both usage errors).

    inc = open_incident(store, title="Slow users API", severity="P2", actor="ana")
    add_note(store, inc.number, "index dropped by a migration", actor="ana")
    attach(store, inc.number, "triage", report_doc, actor="ana")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from perfbook.errors import ConflictError, NotFoundError, UsageError
from perfbook.incidents import checklist
from perfbook.incidents.figures import COLUMNS, affected_from, figures_for, summary_for
from perfbook.incidents.model import (
    UPDATE_KINDS,
    Artifact,
    Event,
    EventKind,
    Impact,
    Incident,
    Status,
    check_status_change,
    format_id,
    impact_for,
    raises,
)
from perfbook.store import Store, artifacts, checklist_marks, incidents, now_iso, timeline_events
from perfbook.store.engine import inserted_key

ARTIFACT_KINDS = ("triage", "fix", "load", "capacity", "watch")


@dataclass
class Attached:
    """What attaching one artifact did: its id and label, and the events it appended."""

    artifact_id: int
    label: str
    events: list[str] = field(default_factory=list)


def open_incident(
    store: Store,
    *,
    title: str,
    actor: str,
    severity: str | None = None,
    impact: Impact | None = None,
    report: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> Incident:
    """A new incident (``investigating``), with ``report`` attached as its first triage when given."""
    if not title.strip():
        raise UsageError("an incident needs a title (--title), or a report to take it from")
    now = now_iso()
    endpoints, components = affected_from(report) if report else ([], [])

    def run(conn: Connection) -> int:
        number = inserted_key(
            conn.execute(
                insert(incidents).values(
                    title=title.strip(),
                    status=Status.INVESTIGATING.value,
                    severity=severity,
                    impact=(impact or impact_for(severity)).value,
                    issue_types=list((report or {}).get("issue_types") or []),
                    endpoints=endpoints,
                    components=components,
                    owner=actor,
                    opened_at=now,
                    updated_at=now,
                    last_update_at=now,
                    dedup_key=dedup_key,
                )
            )
        )
        _event(
            conn,
            number,
            EventKind.OPENED,
            actor,
            f"opened {format_id(number)}: {title.strip()}",
            {"severity": severity, "impact": (impact or impact_for(severity)).value, "owner": actor},
        )
        if report is not None:
            _attach(conn, number, "triage", report, actor)
        return number

    return get_incident(store, store.write(run))


def get_incident(store: Store, number: int) -> Incident:
    """The incident ``number``; a usage error (exit 2) when there is none."""
    return store.read(lambda conn: _row(conn, number))


def list_incidents(
    store: Store,
    *,
    include_resolved: bool = False,
    statuses: Sequence[Status] = (),
    severities: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[Incident]:
    """Incidents newest first: open ones, or all with ``include_resolved``, or those in ``statuses``
    (and of ``severities`` when given); ``limit`` / ``offset`` page through them."""
    query = _filtered(select(incidents), include_resolved, statuses, severities)
    query = query.order_by(incidents.c.id.desc()).limit(limit).offset(offset or None)
    return store.read(lambda conn: [Incident.from_row(dict(r._mapping)) for r in conn.execute(query)])


def count_incidents(
    store: Store,
    *,
    include_resolved: bool = False,
    statuses: Sequence[Status] = (),
    severities: Sequence[str] = (),
) -> int:
    """How many incidents :func:`list_incidents` would give without a limit."""
    if not statuses and not include_resolved:  # the open ones: an index search, where != scans every incident
        statuses = [s for s in Status if s is not Status.RESOLVED]
    query = _filtered(select(func.count()).select_from(incidents), include_resolved, statuses, severities)
    return store.read(lambda conn: int(conn.execute(query).scalar() or 0))


def _filtered(
    query: Any, include_resolved: bool, statuses: Sequence[Status], severities: Sequence[str]
) -> Any:
    if statuses:
        query = query.where(incidents.c.status.in_([s.value for s in statuses]))
    elif not include_resolved:
        query = query.where(incidents.c.status != Status.RESOLVED.value)
    if severities:
        query = query.where(incidents.c.severity.in_(list(severities)))
    return query


def add_note(store: Store, number: int, text: str, *, actor: str, followup: bool = False) -> int:
    """A note on the timeline (``followup`` marks it for the postmortem's follow-ups)."""
    if not text.strip():
        raise UsageError("a note needs text")

    def run(conn: Connection) -> int:
        _row(conn, number, lock=True)
        return _event(conn, number, EventKind.NOTE, actor, text.strip(), {"followup": followup})

    return store.write(run)


def add_event(
    store: Store,
    number: int,
    kind: EventKind,
    summary: str,
    *,
    actor: str,
    data: dict[str, Any] | None = None,
) -> int:
    """Any other timeline event (``message`` for a sent message …); the event's id."""

    def run(conn: Connection) -> int:
        _row(conn, number, lock=True)
        return _event(conn, number, kind, actor, summary, data or {})

    return store.write(run)


def set_status(
    store: Store,
    number: int,
    status: Status,
    *,
    actor: str,
    message: str | None = None,
    impact: Impact | None = None,
) -> Incident:
    """Move an open incident to another status (not ``resolved``: see :func:`resolve`)."""

    def run(conn: Connection) -> None:
        inc = _row(conn, number, lock=True)
        check_status_change(inc.status, status)
        values: dict[str, Any] = {"status": status.value}
        if impact is not None:
            values["impact"] = impact.value
        conn.execute(update(incidents).where(incidents.c.id == number).values(**values))
        line = f"status {inc.status.value} → {status.value}" + (f": {message}" if message else "")
        _event(
            conn,
            number,
            EventKind.STATUS,
            actor,
            line,
            {
                "from": inc.status.value,
                "to": status.value,
                "message": message,
                "impact": values.get("impact"),
            },
        )

    store.write(run)
    return get_incident(store, number)


def set_severity(
    store: Store, number: int, severity: str, *, actor: str, reason: str | None = None
) -> Incident:
    """Set the severity by hand (recorded with the old value)."""

    def run(conn: Connection) -> None:
        inc = _row(conn, number, lock=True)
        if inc.status is Status.RESOLVED:
            raise ConflictError(
                f"{inc.id} is resolved", hint=f"reopen it first: perfbook incident reopen {inc.id}"
            )
        if inc.severity == severity:
            raise ConflictError(f"{inc.id} is already {severity}")
        _change_severity(conn, inc, severity, actor, reason or "set by hand")

    store.write(run)
    return get_incident(store, number)


def mark_item(
    store: Store, number: int, item: int, state: str, *, actor: str, note: str | None = None
) -> None:
    """A person ticks ``item`` (``done``), marks it ``na``, or takes their mark back (``open``)."""
    text = checklist.ITEMS[item - 1].text

    def run(conn: Connection) -> None:
        _row(conn, number, lock=True)
        where = (checklist_marks.c.incident_id == number) & (checklist_marks.c.item == item)
        existed = conn.execute(delete(checklist_marks).where(where)).rowcount
        if state == "open" and not existed:
            raise ConflictError(f"item {item} has no mark of a person to take back")
        if state != "open":
            conn.execute(
                insert(checklist_marks).values(
                    incident_id=number, item=item, state=state, actor=actor, at=now_iso(), note=note
                )
            )
        verb = {"done": "ticked", "na": "marked n/a", "open": "unticked"}[state]
        _event(
            conn,
            number,
            EventKind.CHECK,
            actor,
            f"{verb} {item} {text}" + (f": {note}" if note else ""),
            {"item": item, "state": state, "note": note},
        )

    store.write(run)


def resolve(store: Store, number: int, *, actor: str, message: str | None = None) -> Incident:
    """Resolve an open incident; resolving a resolved one is a usage error."""

    def run(conn: Connection) -> None:
        inc = _row(conn, number, lock=True)
        if inc.status is Status.RESOLVED:
            raise ConflictError(f"{inc.id} is already resolved (at {inc.resolved_at})")
        now = now_iso()
        conn.execute(
            update(incidents)
            .where(incidents.c.id == number)
            .values(status=Status.RESOLVED.value, resolved_at=now)
        )
        _event(
            conn,
            number,
            EventKind.RESOLVED,
            actor,
            "resolved" + (f": {message}" if message else ""),
            {"from": inc.status.value, "message": message},
        )

    store.write(run)
    return get_incident(store, number)


def reopen(store: Store, number: int, *, actor: str, reason: str | None = None) -> Incident:
    """Reopen a resolved incident (back to ``investigating``)."""

    def run(conn: Connection) -> None:
        inc = _row(conn, number, lock=True)
        if inc.status is not Status.RESOLVED:
            raise ConflictError(f"{inc.id} is not resolved (it is {inc.status.value})")
        conn.execute(
            update(incidents)
            .where(incidents.c.id == number)
            .values(status=Status.INVESTIGATING.value, resolved_at=None)
        )
        _event(
            conn,
            number,
            EventKind.REOPENED,
            actor,
            "reopened" + (f": {reason}" if reason else ""),
            {"resolved_at": inc.resolved_at, "reason": reason},
        )

    store.write(run)
    return get_incident(store, number)


def attach(store: Store, number: int, kind: str, document: dict[str, Any], *, actor: str) -> Attached:
    """Record ``document`` (a triage report, an applied fix, a load or capacity run) as evidence of an open incident."""
    if kind not in ARTIFACT_KINDS:
        raise UsageError(f"artifact kind must be one of {', '.join(ARTIFACT_KINDS)}, got {kind!r}")

    def run(conn: Connection) -> Attached:
        inc = _row(conn, number, lock=True)
        if inc.status is Status.RESOLVED:
            raise ConflictError(
                f"{inc.id} is resolved: evidence goes to open incidents",
                hint=f"reopen it (perfbook incident reopen {inc.id}), or unset PERFBOOK_INCIDENT",
            )
        return _attach(conn, number, kind, document, actor)

    return store.write(run)


def artifacts_of(store: Store, number: int) -> list[Artifact]:
    """Every artifact of the incident, oldest first, with its whole document."""
    return store.read(lambda conn: _artifacts(conn, number))


def timeline(store: Store, number: int) -> list[Event]:
    """The incident's events, oldest first."""
    return store.read(lambda conn: _events(conn, number))


@dataclass
class Snapshot:
    """An incident with its checklist, timeline and artifacts, read in one transaction."""

    incident: Incident
    checklist: list[checklist.ItemState]
    timeline: list[Event]
    artifacts: list[Artifact]


def snapshot(store: Store, number: int) -> Snapshot:
    """Everything ``show`` needs, consistent with itself."""

    def run(conn: Connection) -> Snapshot:
        arts = _artifacts(conn, number)
        return Snapshot(
            _row(conn, number), checklist.evaluate(arts, _marks(conn, number)), _events(conn, number), arts
        )

    return store.read(run)


def checklist_of(store: Store, number: int) -> list[checklist.ItemState]:
    """The checklist as evidence and marks make it now."""
    return store.read(lambda conn: checklist.evaluate(_artifacts(conn, number), _marks(conn, number)))


def _row(conn: Connection, number: int, *, lock: bool = False) -> Incident:
    query = select(incidents).where(incidents.c.id == number)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        newest = conn.execute(select(func.max(incidents.c.id))).scalar()
        hint = (
            f"the newest is {format_id(newest)} (see: perfbook incident list --all)"
            if newest
            else "there are no incidents yet"
        )
        raise NotFoundError(f"no incident {format_id(number)}", hint=hint)
    return Incident.from_row(dict(row._mapping))


def _artifacts(conn: Connection, number: int) -> list[Artifact]:
    query = select(artifacts).where(artifacts.c.incident_id == number).order_by(artifacts.c.id)
    return [Artifact(r.id, r.kind, r.at, r.actor, r.summary, r.document) for r in conn.execute(query)]


def _events(conn: Connection, number: int) -> list[Event]:
    query = (
        select(timeline_events).where(timeline_events.c.incident_id == number).order_by(timeline_events.c.id)
    )
    return [
        Event(r.id, r.at, r.kind, r.actor, r.summary, r.data or {}, r.artifact_id)
        for r in conn.execute(query)
    ]


def _marks(conn: Connection, number: int) -> list[checklist.Mark]:
    query = select(checklist_marks).where(checklist_marks.c.incident_id == number)
    return [checklist.Mark(r.item, r.state, r.actor, r.at, r.note) for r in conn.execute(query)]


def _event(
    conn: Connection,
    number: int,
    kind: EventKind,
    actor: str,
    summary: str,
    data: dict[str, Any],
    artifact_id: int | None = None,
) -> int:
    now = now_iso()
    result = conn.execute(
        insert(timeline_events).values(
            incident_id=number,
            at=now,
            kind=kind.value,
            actor=actor,
            summary=summary,
            data=data,
            artifact_id=artifact_id,
        )
    )
    event_id = inserted_key(result)
    values = {"updated_at": now, **({"last_update_at": now} if kind in UPDATE_KINDS else {})}
    conn.execute(update(incidents).where(incidents.c.id == number).values(**values))
    return event_id


def _change_severity(conn: Connection, inc: Incident, severity: str, actor: str, why: str) -> None:
    values: dict[str, Any] = {"severity": severity}
    if impact_for(severity).rank > inc.impact.rank:
        values["impact"] = impact_for(severity).value
    conn.execute(update(incidents).where(incidents.c.id == inc.number).values(**values))
    _event(
        conn,
        inc.number,
        EventKind.SEVERITY,
        actor,
        f"severity {inc.severity or 'unclassified'} → {severity} ({why})",
        {"from": inc.severity, "to": severity, "reason": why, "impact": values.get("impact")},
    )


def _attach(conn: Connection, number: int, kind: str, document: dict[str, Any], actor: str) -> Attached:
    before = checklist.evaluate(_artifacts(conn, number), _marks(conn, number))
    figures = figures_for(kind, document)
    summary = summary_for(kind, figures)
    columns = {k: figures.get(k) for k in COLUMNS}
    result = conn.execute(
        insert(artifacts).values(
            incident_id=number,
            kind=kind,
            at=now_iso(),
            actor=actor,
            summary=summary,
            document=document,
            **columns,
        )
    )
    art_id = inserted_key(result)
    done = Attached(art_id, f"{kind} #{art_id}")
    event_kind = EventKind(kind) if kind in {k.value for k in EventKind} else EventKind.NOTE
    _event(
        conn,
        number,
        event_kind,
        actor,
        f"{done.label}: {summary}",
        {"artifact": done.label, **figures},
        art_id,
    )
    done.events.append(f"{done.label}: {summary}")
    if kind == "triage":
        done.events += _from_triage(conn, number, document, done.label)
    done.events += _checklist_changes(conn, number, before)
    return done


def _from_triage(conn: Connection, number: int, report: dict[str, Any], label: str) -> list[str]:
    """A triage raises the severity when it is worse, and adds what it shows affected."""
    inc = _row(conn, number)
    out = []
    endpoints, components = affected_from(report)
    merged = {
        "endpoints": sorted(set(inc.endpoints) | set(endpoints)),
        "components": sorted(set(inc.components) | set(components)),
        "issue_types": sorted(set(inc.issue_types) | set(report.get("issue_types") or [])),
    }
    conn.execute(update(incidents).where(incidents.c.id == number).values(**merged))
    if raises(report.get("severity"), inc.severity):
        _change_severity(conn, inc, report["severity"], "perfbook", f"from {label}")
        out.append(f"severity {inc.severity or 'unclassified'} → {report['severity']} (from {label})")
    return out


def _checklist_changes(conn: Connection, number: int, before: list[checklist.ItemState]) -> list[str]:
    """A ``check`` event for items this evidence ticked or contradicted."""
    after = checklist.evaluate(_artifacts(conn, number), _marks(conn, number))
    lines = []
    for old, new in zip(before, after, strict=True):
        if new.by == "perfbook" and old.by != "perfbook":
            lines.append(f"ticked {new.item.number} {new.item.text} from {new.artifact} ({new.why})")
        if new.contradicted and new.contradicted != old.contradicted:
            lines.append(f"flagged {new.item.number} {new.item.text}: contradicted by {new.contradicted}")
    for line in lines:
        _event(conn, number, EventKind.CHECK, "perfbook", line, {"auto": True})
    return lines
