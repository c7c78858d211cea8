"""The Lab page and its API (only when ``perfbook serve --lab`` serves a running lab): faults on and off.

Switching goes through the lab's own admin endpoint (:func:`perfbook.lab.client.switch_fault`), as
``perfbook lab fault NAME on|off`` does; it is a write like any other.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse

from perfbook.web.deps import Actor, Ctx
from perfbook.web.render import page
from perfbook.web.schemas import ERRORS, FaultSwitch

router = APIRouter(responses=ERRORS)
FaultName = Path(max_length=32, pattern="^[a-z_]+$")


def _faults(ctx: Any) -> dict[str, Any]:
    from perfbook.lab import client

    return client.list_faults(ctx.lab)


@router.get("/api/v1/lab/faults", response_model=dict[str, dict[str, Any]], tags=["lab"])
def list_faults(ctx: Ctx) -> Any:
    """Every fault of the lab and whether it is on (``perfbook lab status``)."""
    return _faults(ctx)


@router.post("/api/v1/lab/faults/{name}", response_model=dict[str, Any], tags=["lab"])
def switch(body: FaultSwitch, ctx: Ctx, actor: Actor, name: str = FaultName) -> Any:
    """``perfbook lab fault NAME on|off [--param K=V]``."""
    from perfbook.lab import client

    return client.switch_fault(ctx.lab, name, body.on, dict(body.params))


@router.get("/lab", include_in_schema=False)
def lab_page(request: Request, ctx: Ctx) -> Any:
    from perfbook.lab.faults import DEFAULT_PARAMS

    return page(
        request,
        "lab.html.j2",
        {"faults": _faults(ctx), "defaults": DEFAULT_PARAMS, "backend": ctx.lab.backend_url, "title": "Lab"},
    )


@router.post("/lab/faults/{name}", include_in_schema=False)
async def lab_switch(request: Request, ctx: Ctx, actor: Actor, name: str = FaultName) -> Any:
    from starlette.concurrency import run_in_threadpool

    from perfbook.lab import client

    form = await request.form()
    await run_in_threadpool(client.switch_fault, ctx.lab, name, form.get("on") == "1", {})
    return RedirectResponse("/lab", status_code=303)
