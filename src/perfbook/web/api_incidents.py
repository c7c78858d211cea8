"""``/api/v1/incidents``: ``perfbook incident`` as JSON — list, show, open, note, status, severity, check,
resolve, reopen, notify.

Every change goes through :mod:`perfbook.incidents.records` (or :func:`perfbook.notify.send.notify`)
exactly as the CLI's commands do, so the timeline says the same whoever made the change; each
answers with the incident as ``incident show --json`` prints it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from perfbook.incidents import records
from perfbook.incidents.model import parse_id, parse_impact, parse_severity
from perfbook.web import operations
from perfbook.web.deps import Actor, Ctx
from perfbook.web.schemas import (
    ERRORS,
    ChecklistItemOut,
    EventOut,
    IncidentList,
    MarkRequest,
    MessagesOut,
    NoteRequest,
    NotifyRequest,
    OpenRequest,
    ReopenRequest,
    ResolveRequest,
    SeverityRequest,
    ShowOut,
    StatusRequest,
)

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)
IncidentId = Annotated[str, Path(max_length=20, description="INC-7, inc-7 or 7")]
Item = Annotated[int, Path(ge=1, le=20, description="checklist item, 1..20 in the runbook's order")]


def _show(ctx: Any, number: int) -> dict[str, Any]:
    return operations.show(ctx.store, ctx.cfg, number)


def _changed(ctx: Any, number: int) -> dict[str, Any]:
    """After a change: rebuild the static status page when ``[status] dir`` is set (as the CLI does), then show."""
    from perfbook.statuspage import rebuild_if_configured

    rebuild_if_configured(ctx.store, ctx.cfg)
    ctx.cache.pop("status", None)
    return _show(ctx, number)


@router.get("", response_model=IncidentList)
def list_incidents(
    ctx: Ctx,
    status: Annotated[list[str], Query(max_length=4)] = [],  # noqa: B006 - FastAPI reads it
    severity: Annotated[list[str], Query(max_length=4)] = [],  # noqa: B006
    all: bool = Query(False, description="resolved ones too"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Any:
    """``perfbook incident list [--all] [--status S] [--severity P]``: newest first, with overdue updates marked."""
    return operations.incident_list(
        ctx.store, ctx.cfg, status=status, severity=severity, include_resolved=all, limit=limit, offset=offset
    )


@router.post("", response_model=ShowOut, status_code=201)
def open_incident(body: OpenRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident open``: a new incident, with a stored triage report attached when ``report_id`` is given."""
    inc = operations.open_from(
        ctx.store,
        title=body.title,
        actor=actor,
        severity=body.severity,
        report_id=body.report_id,
        impact=body.impact,
    )
    return _changed(ctx, inc.number)


@router.get("/{incident_id}", response_model=ShowOut)
def show_incident(incident_id: IncidentId, ctx: Ctx) -> Any:
    """``perfbook incident show ID --json``: the incident, its checklist, timeline and artifacts."""
    return _show(ctx, parse_id(incident_id))


@router.get("/{incident_id}/timeline", response_model=list[EventOut])
def incident_timeline(incident_id: IncidentId, ctx: Ctx) -> Any:
    """The incident's events, oldest first."""
    return _show(ctx, parse_id(incident_id))["timeline"]


@router.get("/{incident_id}/checklist", response_model=list[ChecklistItemOut])
def incident_checklist(incident_id: IncidentId, ctx: Ctx) -> Any:
    """``perfbook incident checklist ID``: the runbook's 20 items as evidence and marks make them now."""
    return _show(ctx, parse_id(incident_id))["checklist"]


@router.post("/{incident_id}/checklist/{item}", response_model=ShowOut)
def mark_item(incident_id: IncidentId, item: Item, body: MarkRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident check ID ITEM [--na | --undo]``: tick an item, mark it n/a, or take a mark back."""
    number = parse_id(incident_id)
    records.mark_item(ctx.store, number, item, body.state, actor=actor, note=body.note)
    return _changed(ctx, number)


@router.post("/{incident_id}/notes", response_model=ShowOut)
def add_note(incident_id: IncidentId, body: NoteRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident note ID TEXT [--followup]``."""
    number = parse_id(incident_id)
    records.add_note(ctx.store, number, body.text, actor=actor, followup=body.followup)
    return _changed(ctx, number)


@router.post("/{incident_id}/status", response_model=ShowOut)
def set_status(incident_id: IncidentId, body: StatusRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident status ID STATUS [--message M]``."""
    from perfbook.incidents.model import parse_status

    number = parse_id(incident_id)
    records.set_status(
        ctx.store,
        number,
        parse_status(body.status),
        actor=actor,
        message=body.message,
        impact=parse_impact(body.impact) if body.impact else None,
    )
    return _changed(ctx, number)


@router.post("/{incident_id}/severity", response_model=ShowOut)
def set_severity(incident_id: IncidentId, body: SeverityRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident severity ID P1 [--reason R]``."""
    number = parse_id(incident_id)
    records.set_severity(ctx.store, number, parse_severity(body.severity), actor=actor, reason=body.reason)
    return _changed(ctx, number)


@router.post("/{incident_id}/resolve", response_model=ShowOut)
def resolve(incident_id: IncidentId, body: ResolveRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident resolve ID [--message M]`` (without --verify: run a triage first to verify)."""
    number = parse_id(incident_id)
    records.resolve(ctx.store, number, actor=actor, message=body.message)
    return _changed(ctx, number)


@router.post("/{incident_id}/reopen", response_model=ShowOut)
def reopen(incident_id: IncidentId, body: ReopenRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident reopen ID [--reason R]``."""
    number = parse_id(incident_id)
    records.reopen(ctx.store, number, actor=actor, reason=body.reason)
    return _changed(ctx, number)


@router.post("/{incident_id}/notify", response_model=dict[str, Any])
def notify(incident_id: IncidentId, body: NotifyRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook incident notify ID EVENT``: write the event's messages and send each once (or only show: dry_run)."""
    from perfbook.notify.send import notify as send

    number = parse_id(incident_id)
    result = send(
        ctx.store,
        ctx.cfg,
        number,
        body.event,
        actor=actor,
        message=body.message,
        dry_run=body.dry_run,
        internal_only=body.internal_only,
    )
    ctx.cache.pop("status", None)
    return result.to_dict()


@router.get("/{incident_id}/messages", response_model=MessagesOut)
def messages(
    incident_id: IncidentId,
    ctx: Ctx,
    event: str = Query("update", pattern="^(detected|update|resolved|customer)$"),
) -> Any:
    """What was sent (every delivery, newest first) and the drafts of ``event``'s messages as they would go now."""
    return operations.messages_of(ctx.store, ctx.cfg, parse_id(incident_id), event)


@router.get(
    "/{incident_id}/postmortem",
    response_model=None,
    responses={
        200: {
            "description": "the postmortem",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
def postmortem(incident_id: IncidentId, ctx: Ctx, format: str = Query("md", pattern="^(md|html)$")) -> Any:
    """``perfbook incident report ID --format md|html``: the postmortem from the record."""
    from perfbook.notify.context import load_state
    from perfbook.report.postmortem import render_postmortem

    text = render_postmortem(
        load_state(ctx.store, parse_id(incident_id)), ctx.cfg, format, now=dt.datetime.now(dt.UTC)
    )
    if format == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown")
