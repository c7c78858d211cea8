"""The few compositions the routes call besides the library's own functions (reads and writes).

Each is what a CLI command does in its body, minus the printing: run a triage and keep it (on an
incident, or on its own), read an incident whole in the shape of ``perfbook incident show --json``,
list incidents with the same filters as ``incident list``. Routes stay adapters: parse, call one
of these or a library function, render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from perfbook.config import Config
from perfbook.errors import UsageError
from perfbook.incidents import artifacts, records
from perfbook.incidents.model import Incident, Status, parse_severity
from perfbook.incidents.views import incident_to_dict, show_to_dict
from perfbook.store import Store
from perfbook.web.failures import TooBusy

ALL_STATUSES = tuple(s.value for s in Status)


def show(store: Store, cfg: Config, number: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """``incident show --json``: the incident, its checklist, timeline and artifacts (without their documents),
    read in one transaction."""
    return show_to_dict(
        records.snapshot(store, number), now or dt.datetime.now(dt.UTC), cfg.incident.update_every_min
    )


def statuses_of(names: Sequence[str]) -> list[Status]:
    try:
        return [Status(n.strip().lower()) for n in names if n.strip()]
    except ValueError:
        raise UsageError(f"status must be one of {', '.join(ALL_STATUSES)}, got {', '.join(names)}") from None


def incident_list(
    store: Store,
    cfg: Config,
    *,
    status: Sequence[str] = (),
    severity: Sequence[str] = (),
    include_resolved: bool = False,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """``incident list --json``: newest first, open ones unless ``include_resolved`` or ``status`` says otherwise."""
    now = now or dt.datetime.now(dt.UTC)
    filters: dict[str, Any] = {
        "include_resolved": include_resolved,
        "statuses": statuses_of(status),
        "severities": [parse_severity(s) for s in severity if s.strip()],
    }
    rows = records.list_incidents(store, limit=limit, offset=offset, **filters)
    return {
        "incidents": [incident_to_dict(i, now, cfg.incident.update_every_min) for i in rows],
        "total": records.count_incidents(store, **filters),
        "limit": limit,
        "offset": offset,
    }


def run_triage(
    ctx: Any,
    *,
    actor: str,
    incident: int | None = None,
    only: Sequence[str] | None = None,
    skip: Sequence[str] = (),
    window_s: float | None = None,
) -> dict[str, Any]:
    """Triage now (one at a time: a second request meanwhile is refused) and keep the report; its stored id."""
    from perfbook.report.json import report_to_dict
    from perfbook.triage import parse_probe_list, triage

    only_list = parse_probe_list(",".join(only), "only") if only else None
    skip_list = parse_probe_list(",".join(skip), "skip") or [] if skip else []
    if window_s is not None and not 0 < window_s <= 60:
        raise UsageError(f"window_s must be between 0 and 60 s, got {window_s:g}")
    if incident is not None:
        records.get_incident(ctx.store, incident)  # an unknown incident fails before the probes run
    if not ctx.triage_lock.acquire(blocking=False):
        raise TooBusy(
            "a triage is already running", hint="wait for it: it ends within its window plus a few seconds"
        )
    try:
        doc = report_to_dict(triage(ctx.cfg, window_s=window_s, only=only_list, skip=skip_list))
    finally:
        ctx.triage_lock.release()
    if incident is not None:
        done = records.attach(ctx.store, incident, "triage", doc, actor=actor)
        return {
            "artifact_id": done.artifact_id,
            "incident": records.get_incident(ctx.store, incident).id,
            "events": done.events,
            "report": doc,
        }
    return {
        "artifact_id": artifacts.keep(ctx.store, "triage", doc, actor=actor),
        "incident": None,
        "events": [],
        "report": doc,
    }


def open_from(
    store: Store,
    *,
    title: str,
    actor: str,
    severity: str | None = None,
    report_id: int | None = None,
    impact: str | None = None,
) -> Incident:
    """Open an incident, with a stored triage report attached as its first evidence when named."""
    from perfbook.incidents.model import parse_impact

    report = (
        artifacts.get_artifact(store, report_id, kinds=("triage",)).artifact.document if report_id else None
    )
    title = title.strip() or ((report or {}).get("severity_reason") or "")
    return records.open_incident(
        store,
        title=title,
        actor=actor,
        severity=parse_severity(severity) if severity else None,
        impact=parse_impact(impact) if impact else None,
        report=report,
    )


def sent_messages(store: Store, number: int, limit: int = 200) -> list[dict[str, Any]]:
    """The incident's deliveries, newest first (the ``messages`` table: pending, sent, failed)."""
    from sqlalchemy import select

    from perfbook.store import messages

    query = (
        select(messages).where(messages.c.incident_id == number).order_by(messages.c.id.desc()).limit(limit)
    )
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])


def drafts(store: Store, cfg: Config, number: int, event: str) -> dict[str, dict[str, str]]:
    """The messages ``incident notify ID EVENT --dry-run`` would send now, per audience."""
    from perfbook.notify.context import load_state
    from perfbook.notify.public import LeakError
    from perfbook.notify.send import render_messages

    state = load_state(store, number)
    now = dt.datetime.now(dt.UTC)
    try:
        return {
            a: {"subject": m.subject, "body": m.body}
            for a, m in render_messages(state, cfg, event, message=None, now=now).items()
        }
    except LeakError as err:  # the internal draft still helps; the external one must be rewritten
        out = {
            a: {"subject": m.subject, "body": m.body}
            for a, m in render_messages(state, cfg, event, message=None, now=now, internal_only=True).items()
        }
        out["external"] = {"subject": "(not written: it would name internals)", "body": str(err)}
        return out


def messages_of(store: Store, cfg: Config, number: int, event: str) -> dict[str, Any]:
    """The incident's deliveries (newest first) and the drafts of ``event``."""
    return {"messages": sent_messages(store, number), "drafts": drafts(store, cfg, number, event)}
