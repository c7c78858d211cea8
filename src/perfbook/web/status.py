"""The public status page: ``/status``, ``/status.json``, ``/status.txt`` and a badge per component. No token.

The same files ``perfbook status build`` writes (:func:`perfbook.statuspage.build.render_files`,
checked for internals before they are served), rendered from the store at most every few
seconds: a public page must not let anyone make the store work for each request.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from perfbook.errors import NotFoundError
from perfbook.web.deps import Ctx
from perfbook.web.schemas import ERRORS
from perfbook.web.svg import badge

router = APIRouter(tags=["status"])
CACHE_S = 5.0
PUBLIC = {"Cache-Control": f"public, max-age={int(CACHE_S)}", "Access-Control-Allow-Origin": "*"}


def status_files(ctx: Any) -> dict[str, str]:
    """index.html, status.json and status.txt as they are now (at most :data:`CACHE_S` old)."""
    from perfbook.statuspage.build import render_files

    hit = ctx.cache.get("status")
    if hit is not None and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    files = render_files(ctx.store, ctx.cfg)
    ctx.cache["status"] = (time.monotonic(), files)
    return files


@router.get("/status", response_class=HTMLResponse)
def status_page(ctx: Ctx) -> Any:
    """The status page people read."""
    return HTMLResponse(status_files(ctx)["index.html"], headers=PUBLIC)


@router.get("/status.json", response_model=dict[str, Any])
def status_json(ctx: Ctx) -> Any:
    """Components and incidents in Atlassian Statuspage's vocabulary."""
    return JSONResponse(json.loads(status_files(ctx)["status.json"]), headers=PUBLIC)


@router.get("/status.txt", response_class=PlainTextResponse)
def status_text(ctx: Ctx) -> Any:
    """The runbook's plain status text."""
    return PlainTextResponse(status_files(ctx)["status.txt"], headers=PUBLIC)


@router.get("/badge/{component}.svg", responses={200: {"content": {"image/svg+xml": {}}}, 404: ERRORS[404]})
def component_badge(ctx: Ctx, component: str = Path(max_length=100)) -> Any:
    """An SVG badge of one component's state (its name as on the status page; "status" = the whole page)."""
    doc = json.loads(status_files(ctx)["status.json"])
    if component.lower() == "status":
        name, state = doc["page"]["name"], doc["status"]["state"]
    else:
        match = next((c for c in doc["components"] if c["name"].lower() == component.lower()), None)
        if match is None:
            names = ", ".join(c["name"] for c in doc["components"])
            raise NotFoundError(
                f"no status page component {component!r}", hint=f"the components: {names}, or 'status'"
            )
        name, state = match["name"], match["status"]
    return Response(badge(name, state), media_type="image/svg+xml", headers=PUBLIC)
