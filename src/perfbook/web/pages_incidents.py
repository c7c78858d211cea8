"""Incident pages: the list (filter by status and severity), one incident (timeline, checklist, messages),
its postmortem.

Every change is a form post calling the same function as ``perfbook incident …`` and answered with
a redirect back to the incident, so the page shows the timeline event the change appended.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from perfbook.incidents import records
from perfbook.incidents.model import Status, format_id, parse_id, parse_severity, parse_status
from perfbook.web import operations
from perfbook.web.deps import Actor, Ctx
from perfbook.web.render import page

router = APIRouter(include_in_schema=False)
PAGE = 50
Text = Annotated[str, Form(max_length=10000)]


def _back(ctx: Any, number: int, anchor: str = "") -> RedirectResponse:
    from perfbook.statuspage import rebuild_if_configured

    rebuild_if_configured(ctx.store, ctx.cfg)
    ctx.cache.pop("status", None)  # the public status page shows the change at once
    return RedirectResponse(f"/incidents/{format_id(number)}{anchor}", status_code=303)


@router.get("/incidents")
def incident_list(
    request: Request,
    ctx: Ctx,
    status: str = Query("", max_length=20),
    severity: str = Query("", max_length=4),
    offset: int = Query(0, ge=0),
) -> Any:
    everything = status == "all"
    doc = operations.incident_list(
        ctx.store,
        ctx.cfg,
        status=[status] if status and not everything else [],
        severity=[severity] if severity else [],
        include_resolved=everything,
        limit=PAGE,
        offset=offset,
    )
    return page(
        request,
        "incident_list.html.j2",
        {
            "doc": doc,
            "status": status,
            "severity": severity,
            "statuses": [s.value for s in Status],
            "offset": offset,
            "page": PAGE,
            "title": "Incidents",
        },
    )


@router.post("/incidents")
def incident_open(
    ctx: Ctx,
    actor: Actor,
    title: Text = "",
    severity: Annotated[str, Form()] = "",
    report_id: Annotated[int | None, Form()] = None,
) -> Any:
    inc = operations.open_from(
        ctx.store, title=title, actor=actor, severity=severity or None, report_id=report_id
    )
    return _back(ctx, inc.number)


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, ctx: Ctx, incident_id: str) -> Any:
    number = parse_id(incident_id)
    doc = operations.show(ctx.store, ctx.cfg, number)
    sections: dict[str, list[dict[str, Any]]] = {}
    for item in doc["checklist"]:
        sections.setdefault(item["section"], []).append(item)
    # drafts: their own request (templates cost)
    msgs = {"messages": operations.sent_messages(ctx.store, number)}
    return page(
        request,
        "incident.html.j2",
        {
            "doc": doc,
            "inc": doc["incident"],
            "sections": sections,
            "msgs": msgs,
            "statuses": [s.value for s in Status if s is not Status.RESOLVED],
            "title": f"{doc['incident']['id']} {doc['incident']['title']}",
        },
    )


@router.get("/incidents/{incident_id}/drafts")
def incident_drafts(
    request: Request,
    ctx: Ctx,
    incident_id: str,
    event: str = Query("update", pattern="^(detected|update|resolved|customer)$"),
) -> Any:
    number = parse_id(incident_id)
    name = "_drafts.html.j2" if request.headers.get("hx-request") else "incident_drafts.html.j2"
    return page(
        request,
        name,
        {
            "drafts": operations.drafts(ctx.store, ctx.cfg, number, event),
            "event": event,
            "incident": format_id(number),
            "title": f"{format_id(number)}: drafts of {event}",
        },
    )


@router.post("/incidents/{incident_id}/checklist/{item}")
def incident_check(
    ctx: Ctx,
    actor: Actor,
    incident_id: str,
    item: int,
    state: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Any:
    number = parse_id(incident_id)
    if state not in ("done", "na", "open") or not 1 <= item <= 20:
        from perfbook.errors import UsageError

        raise UsageError("a checklist mark is done, na or open, on items 1..20")
    records.mark_item(ctx.store, number, item, state, actor=actor, note=note or None)
    return _back(ctx, number, f"#item-{item}")


@router.post("/incidents/{incident_id}/note")
def incident_note(
    ctx: Ctx, actor: Actor, incident_id: str, text: Text, followup: Annotated[str, Form()] = ""
) -> Any:
    number = parse_id(incident_id)
    records.add_note(ctx.store, number, text, actor=actor, followup=followup == "yes")
    return _back(ctx, number, "#timeline")


@router.post("/incidents/{incident_id}/status")
def incident_status(
    ctx: Ctx, actor: Actor, incident_id: str, status: Annotated[str, Form()], message: Text = ""
) -> Any:
    number = parse_id(incident_id)
    records.set_status(ctx.store, number, parse_status(status), actor=actor, message=message or None)
    return _back(ctx, number, "#timeline")


@router.post("/incidents/{incident_id}/severity")
def incident_severity(
    ctx: Ctx, actor: Actor, incident_id: str, severity: Annotated[str, Form()], reason: Text = ""
) -> Any:
    number = parse_id(incident_id)
    records.set_severity(ctx.store, number, parse_severity(severity), actor=actor, reason=reason or None)
    return _back(ctx, number, "#timeline")


@router.post("/incidents/{incident_id}/resolve")
def incident_resolve(ctx: Ctx, actor: Actor, incident_id: str, message: Text = "") -> Any:
    number = parse_id(incident_id)
    records.resolve(ctx.store, number, actor=actor, message=message or None)
    return _back(ctx, number, "#timeline")


@router.post("/incidents/{incident_id}/reopen")
def incident_reopen(ctx: Ctx, actor: Actor, incident_id: str, reason: Text = "") -> Any:
    number = parse_id(incident_id)
    records.reopen(ctx.store, number, actor=actor, reason=reason or None)
    return _back(ctx, number, "#timeline")


@router.post("/incidents/{incident_id}/notify")
def incident_notify(
    ctx: Ctx, actor: Actor, incident_id: str, event: Annotated[str, Form()], message: Text = ""
) -> Any:
    from perfbook.notify.send import notify

    number = parse_id(incident_id)
    notify(ctx.store, ctx.cfg, number, event, actor=actor, message=message or None)
    return _back(ctx, number, "#messages")


@router.get("/incidents/{incident_id}/postmortem")
def incident_postmortem(ctx: Ctx, incident_id: str) -> Any:
    from perfbook.notify.context import load_state
    from perfbook.report.postmortem import render_postmortem

    state = load_state(ctx.store, parse_id(incident_id))
    return HTMLResponse(render_postmortem(state, ctx.cfg, "html", now=dt.datetime.now(dt.UTC)))
