"""The dashboard's pages: Overview (live), Triage, Fixes, Load runs, and signing in to write.

Server-rendered; htmx only refreshes the Overview's live part (``/fragments/overview``, every
``refresh_s``). Forms are plain posts carrying the CSRF token, answered with a redirect to the
page that shows the result, so they work from the keyboard and without JavaScript.
(Incident pages are in :mod:`perfbook.web.pages_incidents`.)
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from perfbook.errors import UsageError
from perfbook.incidents import artifacts
from perfbook.incidents.model import parse_id
from perfbook.web import operations
from perfbook.web.deps import Actor, Ctx
from perfbook.web.overview import overview, report_view
from perfbook.web.render import page
from perfbook.web.security import SESSION_COOKIE, SESSION_S, Unauthorized
from perfbook.web.svg import line_plot

router = APIRouter(include_in_schema=False)
PAGE = 50


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/")
def overview_page(request: Request, ctx: Ctx) -> Any:
    return page(
        request,
        "overview.html.j2",
        {"doc": overview(ctx.cfg, ctx.store, now=time.time(), cache=ctx.cache), "title": "Overview"},
    )


@router.get("/fragments/overview")
def overview_live(request: Request, ctx: Ctx) -> Any:
    return page(
        request,
        "_overview_live.html.j2",
        {"doc": overview(ctx.cfg, ctx.store, now=time.time(), cache=ctx.cache)},
    )


@router.get("/triage")
def triage_list(request: Request, ctx: Ctx, offset: int = Query(0, ge=0)) -> Any:
    rows = artifacts.list_artifacts(ctx.store, ("triage", "watch"), limit=PAGE, offset=offset)
    return page(
        request,
        "triage_list.html.j2",
        {
            "rows": rows,
            "offset": offset,
            "page": PAGE,
            "title": "Triage",
            "total": artifacts.count_artifacts(ctx.store, ("triage", "watch")),
        },
    )


@router.post("/triage/run")
def triage_run(
    ctx: Ctx,
    actor: Actor,
    window_s: Annotated[float | None, Form()] = None,
    only: Annotated[str, Form()] = "",
    incident: Annotated[str, Form()] = "",
) -> Any:
    names = [n for n in only.replace(",", " ").split() if n]
    done = operations.run_triage(
        ctx,
        actor=actor,
        incident=parse_id(incident) if incident.strip() else None,
        only=names or None,
        window_s=window_s,
    )
    return _see(f"/triage/{done['artifact_id']}")


@router.get("/triage/{report_id}")
def triage_report(request: Request, ctx: Ctx, report_id: int) -> Any:
    stored = artifacts.get_artifact(ctx.store, report_id, kinds=("triage", "watch"))
    view = report_view(stored.artifact.document, ctx.cfg)
    return page(request, "triage_report.html.j2", {**view, "stored": stored, "title": f"Triage #{report_id}"})


@router.get("/fixes")
def fixes_page(request: Request, ctx: Ctx, action: str | None = Query(None, max_length=64)) -> Any:
    from perfbook.fix import catalog
    from perfbook.store import audit_history

    return page(
        request,
        "fixes.html.j2",
        {
            "entries": audit_history(ctx.store, limit=100, action=action or None),
            "catalog": catalog.describe(),
            "action": action,
            "title": "Fixes",
        },
    )


def _params(action: str, params: str, args: str) -> dict[str, Any]:
    """A fix's parameters from a report (JSON) or typed as on the command line (``--table public.t``)."""
    from perfbook.fix.base import parse_cli_args
    from perfbook.fix.catalog import fix_class

    if args.strip():
        try:
            words = shlex.split(args)
        except ValueError as err:
            raise UsageError(f"parameters: {err}") from None
        return parse_cli_args(fix_class(action).params, words, action)
    try:
        value = json.loads(params or "{}")
    except ValueError:
        raise UsageError("params must be a JSON object") from None
    if not isinstance(value, dict):
        raise UsageError("params must be a JSON object")
    return value


@router.post("/fixes/plan")
def fix_plan(
    request: Request,
    ctx: Ctx,
    actor: Actor,
    action: Annotated[str, Form(max_length=64)],
    params: Annotated[str, Form()] = "{}",
    args: Annotated[str, Form()] = "",
) -> Any:
    from perfbook.fix.confirmed import plan_fix

    values = _params(action, params, args)
    plan = plan_fix(ctx.cfg, ctx.store, action, values, actor=actor)
    return page(
        request,
        "fix_plan.html.j2",
        {
            "plan": plan.to_dict(),
            "action": action,
            "title": f"Plan: {action}",
            "params": json.dumps(values),
            "changed": False,
        },
    )


@router.post("/fixes/apply")
def fix_apply(
    request: Request,
    ctx: Ctx,
    actor: Actor,
    action: Annotated[str, Form(max_length=64)],
    fingerprint: Annotated[str, Form(max_length=64)],
    params: Annotated[str, Form()] = "{}",
    confirm: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
) -> Any:
    from perfbook.fix.confirmed import apply_confirmed

    if not ctx.guard.token_ok(token):
        raise Unauthorized(
            "applying a fix needs the write token typed on the plan page", hint="enter it and confirm"
        )
    if confirm != "yes":
        raise UsageError("not applied: tick the box that confirms you read the plan")
    done = apply_confirmed(ctx.cfg, ctx.store, action, _params(action, params, ""), fingerprint, actor=actor)
    if done.changed is not None:
        return page(
            request,
            "fix_plan.html.j2",
            {
                "plan": done.changed.to_dict(),
                "action": action,
                "params": params,
                "changed": True,
                "title": f"Plan changed: {action}",
            },
            409,
        )
    return page(
        request,
        "fix_outcome.html.j2",
        {"done": done.to_dict(), "action": action, "title": f"Applied: {action}"},
    )


@router.get("/load")
def load_list(request: Request, ctx: Ctx, offset: int = Query(0, ge=0)) -> Any:
    kinds = ("load", "capacity")
    rows = artifacts.list_artifacts(ctx.store, kinds, limit=PAGE, offset=offset)
    return page(
        request,
        "load_list.html.j2",
        {
            "rows": rows,
            "offset": offset,
            "page": PAGE,
            "title": "Load runs",
            "total": artifacts.count_artifacts(ctx.store, kinds),
        },
    )


@router.get("/load/compare")
def load_compare(request: Request, ctx: Ctx, a: int = Query(ge=1), b: int = Query(ge=1)) -> Any:
    from perfbook.load.compare import changes

    first, second = (artifacts.get_artifact(ctx.store, n, kinds=("load",)) for n in (a, b))
    return page(
        request,
        "load_compare.html.j2",
        {
            "a": first,
            "b": second,
            "title": f"Load #{a} → #{b}",
            "rows": changes(first.artifact.document, second.artifact.document),
        },
    )


@router.get("/load/{run_id}")
def load_run(request: Request, ctx: Ctx, run_id: int) -> Any:
    stored = artifacts.get_artifact(ctx.store, run_id, kinds=("load", "capacity"))
    points = stored.artifact.document.get("timeline") or []
    plot = line_plot(
        {
            name: [
                (p["elapsed_s"], (p.get(key) or 0) * 1e3 if p.get(key) is not None else None) for p in points
            ]
            for name, key in (("p50", "p50_s"), ("p99", "p99_s"))
        },
        label="latency over the run: p50 and p99 of each 0.25 s interval, in ms",
    )
    return page(
        request,
        "load_run.html.j2",
        {"stored": stored, "doc": stored.artifact.document, "plot": plot, "title": f"Load run #{run_id}"},
    )


@router.get("/signin")
def signin_page(request: Request, next: str = Query("/", max_length=200)) -> Any:
    return page(
        request, "signin.html.j2", {"next": next if next.startswith("/") else "/", "title": "Sign in"}
    )


@router.post("/signin")
def signin(
    request: Request,
    ctx: Ctx,
    actor: Actor,
    name: Annotated[str, Form(max_length=64)],
    next: Annotated[str, Form(max_length=200)] = "/",
) -> Any:
    response = _see(next if next.startswith("/") and not next.startswith("//") else "/")
    response.set_cookie(
        SESSION_COOKIE,
        ctx.guard.session_cookie(name.strip() or "web"),
        max_age=SESSION_S,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/signout")
def signout(request: Request, actor: Actor) -> Any:
    response = _see("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
