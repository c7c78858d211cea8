"""Join family: requests ↔ PgBouncer's pools (``pgbouncer.pool_exhausted``, ``pgbouncer.pool_saturated``). Pure.

Clients queued in PgBouncer wait before their statements reach PostgreSQL, so PostgreSQL's own
figures look calm. The pool joins an endpoint in trouble only through the endpoint's database: the
pool serves the database the postgres probe reads, and the endpoint reads a table the window's
statements touch (:func:`perfbook.causes.links.db_symptoms`). Without that link the cause is
"also seen". perfbook's own postgres probe through the same pool getting no answer in time is
named as corroboration (it queued too).
"""

from __future__ import annotations

from perfbook.causes.context import Context, probe_timed_out, symptom_lead
from perfbook.causes.links import db_symptoms, linked_symptom
from perfbook.causes.score import SYMPTOM_MATCHED, Score, first_action, make_cause
from perfbook.model import Cause, Finding


def pool_causes(ctx: Context) -> list[Cause]:
    """One cause per exhausted or saturated pool."""
    return [_pool(ctx, f) for f in ctx.of("pgbouncer.pool_exhausted", "pgbouncer.pool_saturated")]


def _pool(ctx: Context, f: Finding) -> Cause:
    score, ev = Score(), f.evidence
    waiting, size, maxwait = ev.get("cl_waiting") or 0, ev.get("server_cap"), ev.get("maxwait_max_s") or 0.0
    queue = f"{waiting} client(s) wait, the oldest {maxwait:.1f} s" if waiting else "no client waits yet"
    score.finding(
        f, f"PgBouncer pool {f.subject}: {ev.get('sv_active')} of {size} server connections busy, {queue}"
    )
    pg = ctx.postgres()
    same_db = pg is not None and ev.get("database") == pg.server.database
    among = db_symptoms(ctx) if same_db else []
    sym = (
        linked_symptom(
            ctx,
            score,
            f"it reads database {ev.get('database')}, whose clients queue in PgBouncer "
            "before their statements reach PostgreSQL",
            SYMPTOM_MATCHED,
            among=among,
        )
        if among
        else None
    )
    queued_too = [u for u in ctx.of("pg.unreachable") if probe_timed_out(u)]
    if queued_too and f.code == "pgbouncer.pool_exhausted":
        score.add(
            0.05, "perfbook's own postgres probe got no answer in time either (it queues in the same pooler)"
        )
    act = first_action([f], ("pgbouncer.raise_pool_size",))
    fix = act.summary if act is not None else "make the pool bigger, or its transactions shorter"
    what = (
        "requests queue in PgBouncer for a database connection"
        if f.code == "pgbouncer.pool_exhausted"
        else "PgBouncer's pool is fully in use; the next requests will queue"
    )
    summary = (
        f"{symptom_lead(sym)}{what}: pool {f.subject} has {size} server connection(s), {queue}; fix: {fix}"
    )
    evidence = {
        "pool": f.subject,
        "database": ev.get("database"),
        "cl_waiting": waiting,
        "pool_size": size,
        "maxwait_s": maxwait,
        "endpoints": [sym.endpoint] if sym else [],
    }
    return make_cause(
        summary, score, [f, *queued_too, *(sym.findings if sym else [])], "pgbouncer", evidence, act
    )
