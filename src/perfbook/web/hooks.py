"""``/hooks/…``: receivers other systems post to (``POST /hooks/alertmanager``: :mod:`perfbook.fleet.receiver`).

A receiver is a route on this router. It authenticates with the same write token as every other
write (``Depends(perfbook.web.deps.writer)``: Alertmanager sends it with ``http_config.authorization``
as ``Authorization: Bearer …``; the Alertmanager hook also takes it as basic auth's password), answers
errors as JSON (paths under ``/hooks/`` never get HTML),
and may take bodies up to 20 MiB (``app.MAX_BODY_BYTES`` × 20; every other path takes 1 MiB).
It calls the library (triage, :mod:`perfbook.incidents.records`, :mod:`perfbook.notify`) the way
the JSON API does; nothing here holds logic of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from perfbook.fleet.runner import TriageRunner
from perfbook.incidents.model import format_id
from perfbook.web.deps import Ctx, writer
from perfbook.web.schemas import ERRORS
from perfbook.web.security import _ACTOR, Unauthorized

router = APIRouter(prefix="/hooks", tags=["hooks"], responses=ERRORS)
_RUNNER_LOCK = threading.Lock()


async def hook_writer(request: Request) -> str:
    """The write token as a Bearer header, or as the password of basic auth (Alertmanager's
    ``http_config.basic_auth``) on a JSON body: a cross-site form cannot send that content type."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        actor = await writer(request)
        return "alertmanager" if actor == "api" else actor
    guard = request.app.state.serve.guard
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        user, password = "", ""
    if not guard.writable or not guard.token_ok(password):
        raise Unauthorized(
            "basic auth does not carry the write token as its password",
            hint="Alertmanager: http_config.basic_auth.password = $PERFBOOK_SERVE_TOKEN",
        )
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise Unauthorized("basic auth is accepted on a JSON body only (Content-Type: application/json)")
    return f"{user} (alertmanager)" if _ACTOR.fullmatch(user) else "alertmanager"


HookActor = Annotated[str, Depends(hook_writer)]


@router.post(
    "/alertmanager", summary="Alertmanager's webhook: an incident per alert group, a triage attached"
)
async def alertmanager(request: Request, ctx: Ctx, actor: HookActor) -> JSONResponse:
    """Open or update the group's incident and schedule a triage scoped by its labels (202 at once);
    a resolved group is noted on its incident. A body that is not a version 4 payload is a 400."""
    from perfbook.fleet.receiver import PayloadError, parse_payload, receive
    from perfbook.fleet.scope import scope_for

    try:
        doc = json.loads(await request.body())
    except ValueError as err:
        raise PayloadError(f"the body is not JSON: {err}") from None
    group = parse_payload(doc)
    done = await asyncio.to_thread(receive, ctx.store, group, actor=actor)
    triage = "none"
    if done.triage and done.number is not None:
        triage = await asyncio.to_thread(
            _runner(request).submit, done.number, scope_for(ctx.cfg, group.common_labels)
        )
    incident = format_id(done.number) if done.number is not None else None
    return JSONResponse(
        {"incident": incident, "action": done.action, "new_alerts": len(done.new_firings), "triage": triage},
        status_code=202 if triage == "scheduled" else 200,
    )


def _runner(request: Request) -> TriageRunner:
    """The app's one triage runner, made on first use."""
    state = request.app.state
    with _RUNNER_LOCK:
        if getattr(state, "alert_triages", None) is None:
            state.alert_triages = TriageRunner(state.serve.store)
    return state.alert_triages
