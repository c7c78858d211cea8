"""Root causes: rank hypotheses that join findings across layers into the report's ``causes``.

    causes = rank_causes(report.findings, report.probes, cfg)
    causes[0].summary      # "GET /api/v1/users?email=… is slow because e-mail search scans …"
    causes[0].reasons      # ("+0.40 public.users read by sequential scans …", "+0.25 …")

Pure: findings and evidence in, causes out, no I/O. One module per join family (tables,
sessions, cache, resources, app); each returns candidate causes whose confidence is the sum of
named contributions (:mod:`perfbook.causes.score`). The application family runs last, on the
endpoints no other family explained. Info findings never make a cause; when nothing joins, the
list holds weak single-layer causes that say so, or nothing — never an invented cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from perfbook.causes.app import app_causes
from perfbook.causes.cache import cache_causes
from perfbook.causes.context import Context
from perfbook.causes.resources import resource_causes
from perfbook.causes.sessions import session_causes
from perfbook.causes.tables import table_causes
from perfbook.config import Config
from perfbook.model import Cause, Evidence, Finding

MIN_CONFIDENCE = 0.1  # below this a candidate is noise, not a hypothesis
MAX_CAUSES = 8
WEAK_CONFIDENCE = 0.3  # a healthy stack has no cause above this

FAMILIES: tuple[Callable[[Context], list[Cause]], ...] = (
    table_causes, session_causes, cache_causes, resource_causes,
)


def rank_causes(findings: list[Finding], evidence: Mapping[str, Evidence], cfg: Config) -> list[Cause]:
    """Ranked root-cause hypotheses, most confident first (at most MAX_CAUSES)."""
    ctx = Context.build(findings, evidence, cfg)
    causes: list[Cause] = []
    for family in FAMILIES:
        causes += family(ctx)
    claimed = {e for c in causes for e in c.evidence.get("endpoints") or []}
    causes += app_causes(ctx, claimed)
    kept = [c for c in causes if c.confidence >= MIN_CONFIDENCE]
    kept.sort(key=lambda c: (-c.confidence, -len(c.findings), c.summary))
    return kept[:MAX_CAUSES]


__all__ = ["MIN_CONFIDENCE", "WEAK_CONFIDENCE", "rank_causes"]
