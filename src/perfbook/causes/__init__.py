"""Root causes: rank hypotheses that join findings across layers into the report's ``causes``.

    causes = rank_causes(report.findings, report.probes, cfg)
    causes[0].summary      # "GET /api/v1/users?email=… is slow because e-mail search scans …"
    causes[0].reasons      # ("+0.40 public.users read by sequential scans …", "+0.25 …")

Pure: findings and evidence in, causes out, no I/O. One module per join family (tables,
sessions, cache, resources, app); each returns candidate causes whose confidence is the sum of
named contributions (:mod:`perfbook.causes.score`). The application family runs last, on the
endpoints no other family explained. Info findings never make a cause; when nothing joins, the
list holds weak single-layer causes that say so, or nothing — never an invented cause.

A cause joins an endpoint in trouble only through a link the evidence holds
(:mod:`perfbook.causes.links`). While endpoints are in trouble, a finding of another layer that
links to none of them explains nothing: :func:`split_causes` puts it in ``also_seen``, listed
below the ranked causes, never as an explanation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from perfbook.causes.app import app_causes
from perfbook.causes.cache import cache_causes
from perfbook.causes.context import Context
from perfbook.causes.links import explains_a_symptom
from perfbook.causes.pools import pool_causes
from perfbook.causes.resources import resource_causes
from perfbook.causes.saturation import saturation_causes
from perfbook.causes.sessions import session_causes
from perfbook.causes.tables import table_causes
from perfbook.config import Config
from perfbook.model import Cause, Evidence, Finding

MIN_CONFIDENCE = 0.1  # below this a candidate is noise, not a hypothesis
MAX_CAUSES = 8
WEAK_CONFIDENCE = 0.3  # a healthy stack has no cause above this

FAMILIES: tuple[Callable[[Context], list[Cause]], ...] = (
    table_causes,
    session_causes,
    cache_causes,
    resource_causes,
    saturation_causes,
    pool_causes,
)


def rank_causes(findings: list[Finding], evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Cause]:
    """Ranked root-cause hypotheses, most confident first (at most MAX_CAUSES)."""
    return split_causes(findings, evidence, cfg)[0]


def split_causes(
    findings: list[Finding], evidence: Mapping[str, Evidence[Any]], cfg: Config
) -> tuple[list[Cause], list[Cause]]:
    """(ranked causes, also seen): while endpoints are in trouble, a cause of another layer that
    joins none of them is only "also seen" (nothing in the evidence links it to them)."""
    ctx = Context.build(findings, evidence, cfg)
    causes: list[Cause] = []
    for family in FAMILIES:
        causes += family(ctx)
    claimed = {e for c in causes for e in c.evidence.get("endpoints") or []}
    causes += app_causes(ctx, claimed)
    kept = [c for c in causes if c.confidence >= MIN_CONFIDENCE]
    kept.sort(key=lambda c: (-c.confidence, -len(c.findings), c.summary))
    if not ctx.symptoms:
        return kept[:MAX_CAUSES], []
    ranked = [c for c in kept if c.layer == "app" or explains_a_symptom(c)]
    also = [_also_seen(c, ctx) for c in causes if c.layer != "app" and not explains_a_symptom(c)]
    return ranked[:MAX_CAUSES], also[:MAX_CAUSES]


def _also_seen(cause: Cause, ctx: Context) -> Cause:
    """The cause, saying that nothing in the evidence links it to the endpoints in trouble."""
    troubled = ", ".join(s.label for s in ctx.suffering()[:3])
    why = f"not linked to {troubled}: none of their statements, tables or components is in this finding's evidence"
    return replace(cause, reasons=(*cause.reasons, why))


__all__ = ["MIN_CONFIDENCE", "WEAK_CONFIDENCE", "rank_causes", "split_causes"]
