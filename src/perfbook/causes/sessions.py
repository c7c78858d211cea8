"""Join family: requests ↔ database sessions — locks (``pg.blocked_queries`` → the blocker),
connection saturation (``pg.connections_saturated``) and sessions idle in a transaction. Pure.

A blocked write names its relation, so it joins the endpoints whose route names that table; a
saturated pool or an idle transaction slows every request, so it joins any endpoint in trouble
(a weaker, unmatched join). The blocker is named with its pid, application, state, statement
and how long its transaction has been open — what a person needs to decide to end it.
"""

from __future__ import annotations

from typing import Any

from perfbook.causes.context import Context, symptom_lead
from perfbook.causes.links import db_symptoms, linked_symptom, single_cause, table_symptoms
from perfbook.causes.score import SYMPTOM_MATCHED, Score, first_action, make_cause
from perfbook.codes import action
from perfbook.evidence.postgres import PgBlocked, PgSession, PostgresEvidence
from perfbook.model import Action, Cause, Finding, from_jsonable
from perfbook.sanitize import referenced_tables

WRITE_VERBS = ("insert", "update", "delete", "merge", "copy")
SESSION_FIELDS = ("pid", "application", "state", "query", "xact_age_s", "state_age_s", "user")


def session_causes(ctx: Context) -> list[Cause]:
    """Causes for blocked sessions, saturated connections and idle transactions."""
    causes: list[Cause] = []
    blocker_pids: set[int] = set()
    for f in ctx.of("pg.blocked_queries"):
        cause, pid = _blocked(ctx, f)
        causes.append(cause)
        blocker_pids |= {pid} if pid is not None else set()
    idle = ctx.of("pg.idle_in_transaction")
    if ctx.of("pg.connections_saturated"):
        causes.append(_saturated(ctx, ctx.of("pg.connections_saturated")[0], idle))
    elif idle:
        causes.append(_idle(ctx, idle[0], blocker_pids))
    for f in ctx.of("pg.unreachable"):
        causes.append(single_cause(ctx, f, "postgres", "requests wait on the database"))
    for f in ctx.of("pg.long_running_query"):
        tables = referenced_tables(str(f.evidence.get("query") or ""))
        causes.append(
            single_cause(
                ctx,
                f,
                "postgres",
                "it reads a table the long statement holds",
                among=table_symptoms(ctx, tables),
            )
        )
    for f in ctx.of("pg.cache_hit_low"):
        tables = [str(t) for t in f.evidence.get("tables") or {}]
        causes.append(
            single_cause(
                ctx,
                f,
                "postgres",
                "it reads a table read from outside the buffer cache",
                among=table_symptoms(ctx, tables),
            )
        )
    return causes


def _age(seconds: Any) -> str:
    return f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "an unknown time"


def _blocked(ctx: Context, lead: Finding) -> tuple[Cause, int | None]:
    """One relation's lock waits joined to the endpoints that write it; the blocker's pid."""
    pg, score = ctx.postgres(), Score()
    relation, blocked = _waiting(pg, lead)
    count = len(blocked) or len(lead.evidence.get("blocked") or []) or 1
    waits = [b.session.query_age_s for b in blocked if b.session.query_age_s is not None]
    on = f" on {relation}" if relation else ""
    score.finding(
        lead,
        f"{count} session(s) wait on a lock{on}" + (f", waiting up to {max(waits):.0f} s" if waits else ""),
    )
    blocker = _blocker(pg, blocked, lead)
    if blocker is not None:
        score.add(
            0.15,
            f"the blocker is pid {blocker.pid} ({blocker.application or 'no application_name'}, "
            f"{blocker.state}, transaction open {_age(blocker.xact_age_s)})",
        )
    else:
        score.add(-0.1, "the blocking session could not be read")
    # the blocked sessions are statements on the relation: a failing route that names it joins too
    joined = ctx.symptoms_for_table(relation, statements_seen=bool(blocked)) if relation else []
    sym = joined[0][0] if joined else None
    if sym is not None:
        score.add(SYMPTOM_MATCHED, f"{sym.label} {sym.describe()} in the same window ({joined[0][1]})")
    idle = [
        f
        for f in ctx.of("pg.idle_in_transaction")
        if blocker is not None and str(blocker.state).startswith("idle in")
    ]
    if idle:
        score.add(0.05, "the blocker sits idle in its transaction")
    act = first_action([lead], ("pg.cancel", "pg.terminate")) or _terminate(blocker)
    fix = act.summary if act is not None else "find and end the blocking session"
    writes = any((b.session.query or "").lstrip().lower().startswith(WRITE_VERBS) for b in blocked)
    if blocker is not None:
        held = (
            f"({blocker.application or 'pid ' + str(blocker.pid)}, {blocker.state} for {_age(blocker.xact_age_s)}: "
            f"`{_short(blocker.query)}`)"
        )
        what = f"{'writes' if writes else 'statements'}{on} wait on a lock held by pid {blocker.pid} {held}"
    else:
        what = f"{count} session(s){on} wait on a lock"
    evidence = {
        "relation": relation,
        "blocked": count,
        "max_wait_s": max(waits) if waits else None,
        "blocker": _session_evidence(blocker),
        "lock_mode": blocked[0].lock_mode if blocked else None,
        "endpoints": [s.endpoint for s, _ in joined[:1]],
    }
    cause = make_cause(
        f"{symptom_lead(sym)}{what}; fix: {fix}",
        score,
        [lead, *idle, *(sym.findings if sym else [])],
        "postgres",
        evidence,
        act,
    )
    return cause, blocker.pid if blocker is not None else None


def _waiting(pg: PostgresEvidence | None, lead: Finding) -> tuple[str | None, list[PgBlocked]]:
    """The relation a blocked-queries finding is about, and the probe's sessions waiting on it."""
    everyone = list(pg.blocked) if pg is not None else []
    # the rule names the finding after the relation waited on, or "pid N" for a lock on no relation
    relation = None if lead.subject.startswith("pid ") else lead.subject
    return relation, [b for b in everyone if b.relation == relation] or everyone


def _blocker(pg: PostgresEvidence | None, blocked: list[PgBlocked], lead: Finding) -> PgSession | None:
    """The session at the head of the first blocking chain, from the probe's ``blockers``
    (else from the finding's evidence)."""
    by_pid = {s.pid: s for s in (pg.blockers if pg is not None else [])}
    for raw in lead.evidence.get("blockers") or []:
        if isinstance(raw, dict) and raw.get("pid") is not None and raw["pid"] not in by_pid:
            by_pid[raw["pid"]] = from_jsonable(PgSession, {k: raw.get(k) for k in SESSION_FIELDS})
    for b in blocked:
        for pid in list(b.root_pids or []) + list(b.blocking_pids or []):
            if pid in by_pid:
                return by_pid[pid]
    return next(iter(by_pid.values()), None)


def _terminate(blocker: PgSession | None) -> Action | None:
    if blocker is None:
        return None
    return action(
        "pg.terminate",
        f"end the blocking session pid {blocker.pid}",
        f"psql \"$DSN\" -c 'SELECT pg_terminate_backend({blocker.pid})'",
        pid=[blocker.pid],
    )


def _saturated(ctx: Context, f: Finding, idle: list[Finding]) -> Cause:
    pg, score = ctx.postgres(), Score()
    conns = pg.connections if pg is not None else None
    used = f"{conns.total} of {conns.usable} usable" if conns is not None else f"{f.value or 0:.0f} %"
    score.finding(f, f"connections saturated ({used})")
    holder = _dominant(conns.by_application, conns.total) if conns is not None else None
    if holder is not None:
        score.add(0.1, f"{holder[1]} of them held by {holder[0] or 'sessions without application_name'}")
    idle_sessions = pg.idle_in_transaction if pg is not None else []
    if idle:
        score.add(0.1, f"{len(idle_sessions) or 'some'} session(s) idle in a transaction hold connections")
    sym = linked_symptom(
        ctx,
        score,
        "it reads the database, and every request that needs the database waits for a free connection",
        SYMPTOM_MATCHED,
        among=db_symptoms(ctx),
    )
    states = (conns.by_state if conns is not None else None) or {}
    state = max(states, key=states.__getitem__) if states else None
    held = f", {holder[1]} by {holder[0] or 'unnamed sessions'}" if holder else ""
    mostly = f" (mostly {state})" if state else ""
    act = first_action([f, *idle], ("pg.terminate",))
    fix = act.summary if act else "end the idle sessions and size the pools below max_connections"
    summary = (
        f"{symptom_lead(sym)}the database's connections are saturated: {used} slots used{held}{mostly}; "
        f"new requests wait for a connection; fix: {fix}"
    )
    evidence = {
        "connections": used,
        "by_application": conns.by_application if conns is not None else None,
        "by_state": states,
        "idle_in_transaction": len(idle_sessions),
        "endpoints": [sym.endpoint] if sym else [],
    }
    return make_cause(summary, score, [f, *idle, *(sym.findings if sym else [])], "postgres", evidence, act)


def _idle(ctx: Context, f: Finding, blocker_pids: set[int]) -> Cause:
    pg = ctx.postgres()
    sessions = list(pg.idle_in_transaction) if pg is not None else []
    score = Score()
    oldest = max((s.state_age_s or 0 for s in sessions), default=f.value or 0)
    count = len(sessions) or int(f.evidence.get("count") or 1)
    score.finding(f, f"{count} session(s) idle in a transaction, the oldest for {_age(oldest)}")
    apps = {s.application for s in sessions}
    if len(apps) == 1 and sessions:
        score.add(0.1, f"all of them from one application ({next(iter(apps)) or 'no application_name'})")
    if blocker_pids & {s.pid for s in sessions}:
        score.add(-0.2, "the lock cause already names these sessions")
    sym = linked_symptom(
        ctx,
        score,
        "it reads the database; open transactions hold connections and locks",
        among=db_symptoms(ctx),
    )
    app = next(iter(apps)) if len(apps) == 1 else None
    who = f" ({app})" if app else ""
    query = f": `{_short(sessions[0].query)}`" if sessions else ""
    summary = (
        f"{symptom_lead(sym)}{count} session(s){who} sit idle in a transaction for up to {_age(oldest)}{query}; "
        f"they hold connections and locks and hold back vacuum; fix: end them and close transactions in the app"
    )
    evidence = {"sessions": [_session_evidence(s) for s in sessions[:5]], "endpoints": []}
    return make_cause(
        summary,
        score,
        [f, *(sym.findings if sym else [])],
        "postgres",
        evidence,
        first_action([f], ("pg.terminate", "pg.cancel")),
    )


def _dominant(counts: dict[str, int], total: int) -> tuple[str, int] | None:
    """The one key holding at least half of ``total``, if any."""
    if not counts or not total:
        return None
    name = max(counts, key=counts.__getitem__)
    return (name, counts[name]) if counts[name] * 2 >= total else None


def _short(query: str | None, limit: int = 60) -> str:
    text = " ".join((query or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _session_evidence(s: PgSession | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "pid": s.pid,
        "application": s.application,
        "state": s.state,
        "query": _short(s.query, 200),
        "xact_age_s": s.xact_age_s,
        "state_age_s": s.state_age_s,
        "user": s.user,
    }
