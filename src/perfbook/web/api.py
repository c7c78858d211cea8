"""``/api/v1/``: triage, stored reports, the overview, alerts, fixes, load runs and the status page, as JSON.

Each route parses its input, calls what the matching CLI command calls, and returns its document
(incidents are in :mod:`perfbook.web.api_incidents`). Writes depend on :func:`perfbook.web.deps.writer`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from perfbook.incidents import artifacts
from perfbook.incidents.model import parse_id
from perfbook.web import operations
from perfbook.web.deps import Actor, Ctx
from perfbook.web.overview import overview
from perfbook.web.schemas import (
    ERRORS,
    AlertList,
    ApplyOut,
    ApplyRequest,
    ArtifactList,
    AuditList,
    CatalogOut,
    CompareOut,
    FixRequest,
    Overview,
    PlanOut,
    StoredDocument,
    TriageRequest,
    TriageRunOut,
)

router = APIRouter(prefix="/api/v1", responses=ERRORS)
Limit = Annotated[int, Query(ge=1, le=500, description="how many, newest first")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="how many to skip")]
LOAD_KINDS = ("load", "capacity")


def _listing(ctx: Any, kinds: tuple[str, ...], limit: int, offset: int) -> ArtifactList:
    rows = artifacts.list_artifacts(ctx.store, kinds, limit=limit, offset=offset)
    return ArtifactList(
        items=rows, total=artifacts.count_artifacts(ctx.store, kinds), limit=limit, offset=offset
    )


def _document(stored: artifacts.StoredArtifact) -> StoredDocument:
    art = stored.artifact
    return StoredDocument(
        id=art.id,
        label=art.label,
        kind=art.kind,
        at=art.at,
        actor=art.actor,
        summary=art.summary,
        incident=stored.incident,
        document=art.document,
    )


@router.get("/overview", response_model=Overview, tags=["overview"])
def get_overview(ctx: Ctx) -> Any:
    """What the Overview page shows: latest triage, KPIs with sparklines, alerts, causes, open incidents."""
    return overview(ctx.cfg, ctx.store, now=time.time(), cache=ctx.cache)


@router.post("/triage", response_model=TriageRunOut, tags=["triage"])
def post_triage(body: TriageRequest, ctx: Ctx, actor: Actor) -> Any:
    """Run a triage now (``perfbook triage``) and keep its report; attached to ``incident`` when given."""
    number = parse_id(body.incident) if body.incident else None
    return operations.run_triage(
        ctx, actor=actor, incident=number, only=body.only, skip=body.skip, window_s=body.window_s
    )


@router.get("/reports", response_model=ArtifactList, tags=["triage"])
def list_reports(ctx: Ctx, limit: Limit = 50, offset: Offset = 0) -> Any:
    """Stored triage reports, newest first (the Triage page's list)."""
    return _listing(ctx, ("triage", "watch"), limit, offset)


@router.get("/reports/latest", response_model=StoredDocument, tags=["triage"])
def latest_report(ctx: Ctx) -> Any:
    """The newest stored triage report, whole."""
    from perfbook.errors import NotFoundError

    stored = artifacts.latest_artifact(ctx.store, ("triage", "watch"))
    if stored is None:
        raise NotFoundError("no triage report is stored yet", hint="run one: POST /api/v1/triage")
    return _document(stored)


@router.get("/reports/{report_id}", response_model=StoredDocument, tags=["triage"])
def get_report(report_id: int, ctx: Ctx) -> Any:
    """One stored triage report, whole (the ``perfbook triage --json`` contract)."""
    return _document(artifacts.get_artifact(ctx.store, report_id, kinds=("triage", "watch")))


@router.get("/alerts", response_model=AlertList, tags=["alerts"])
def list_alerts(ctx: Ctx) -> Any:
    """Alerts pending or firing (what watch keeps in the store), firing first."""
    from perfbook.store.history import active_alerts
    from perfbook.web.overview import alert_to_dict

    return {"alerts": [alert_to_dict(a) for a in active_alerts(ctx.store)]}


@router.get("/fixes/catalog", response_model=CatalogOut, tags=["fixes"])
def fix_catalog() -> Any:
    """``perfbook fix --list``: every action, what it changes, its parameters."""
    from perfbook.fix import catalog

    return {"actions": catalog.describe()}


@router.get("/fixes/history", response_model=AuditList, tags=["fixes"])
def fix_history(ctx: Ctx, limit: Limit = 50, action: str | None = Query(None, max_length=64)) -> Any:
    """``perfbook fix history [ACTION]``: the audit log of plans and applies, newest first."""
    from perfbook.store import audit_history

    return {"entries": audit_history(ctx.store, limit=limit, action=action)}


@router.post("/fixes/plan", response_model=PlanOut, tags=["fixes"])
def fix_plan(body: FixRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook fix ACTION …`` (dry run): the exact plan against the target now, audited as a plan."""
    from perfbook.fix.confirmed import plan_fix

    return {"plan": plan_fix(ctx.cfg, ctx.store, body.action, body.params, actor=actor).to_dict()}


@router.post("/fixes/apply", response_model=ApplyOut, tags=["fixes"])
def fix_apply(body: ApplyRequest, ctx: Ctx, actor: Actor) -> Any:
    """``perfbook fix ACTION … --apply``: applies only if the plan now has the confirmed ``fingerprint``."""
    from perfbook.fix.confirmed import apply_confirmed

    return apply_confirmed(
        ctx.cfg,
        ctx.store,
        body.action,
        body.params,
        body.fingerprint,
        actor=actor,
        verify_window_s=body.verify_window_s,
    ).to_dict()


@router.get("/load-runs", response_model=ArtifactList, tags=["load"])
def list_load_runs(ctx: Ctx, limit: Limit = 50, offset: Offset = 0) -> Any:
    """Stored load and capacity runs, newest first."""
    return _listing(ctx, LOAD_KINDS, limit, offset)


@router.get("/load-runs/compare", response_model=CompareOut, tags=["load"])
def compare_load_runs(ctx: Ctx, a: int = Query(ge=1, le=2**62), b: int = Query(ge=1, le=2**62)) -> Any:
    """``perfbook load compare A B``: each figure of two stored runs and how it changed."""
    from perfbook.load.compare import changes

    first, second = (artifacts.get_artifact(ctx.store, n, kinds=("load",)) for n in (a, b))
    return {
        "a": _row(first),
        "b": _row(second),
        "figures": changes(first.artifact.document, second.artifact.document),
    }


def _row(stored: artifacts.StoredArtifact) -> dict[str, Any]:
    art = stored.artifact
    return {
        "id": art.id,
        "label": art.label,
        "kind": art.kind,
        "at": art.at,
        "actor": art.actor,
        "summary": art.summary,
        "incident": stored.incident,
    }


@router.get("/load-runs/{run_id}", response_model=StoredDocument, tags=["load"])
def get_load_run(run_id: int, ctx: Ctx) -> Any:
    """One stored load run, whole (the ``perfbook load --json`` document, with its latency timeline)."""
    return _document(artifacts.get_artifact(ctx.store, run_id, kinds=LOAD_KINDS))


@router.get("/status", response_model=dict[str, Any], tags=["status"])
def api_status(ctx: Ctx) -> Any:
    """The public status page's document (the same as ``/status.json``)."""
    import json

    from perfbook.web.status import status_files

    return json.loads(status_files(ctx)["status.json"])
