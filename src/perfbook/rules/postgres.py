"""PostgreSQL rules: postgres evidence -> findings (perfbook.codes) and the mean-query-time KPI. Pure.

Sessions, statements and connections are judged here; tables, indexes and the buffer cache in
:mod:`perfbook.rules.postgres_tables`. Non-client backends and perfbook's own never reach here:
the probe leaves them out of the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfbook.codes import action, finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.postgres import (
    POOLER_QUEUED,
    POOLER_REFUSED,
    PgBlocked,
    PgSession,
    PostgresEvidence,
    pooler_refusal,
)
from perfbook.model import Action, Evidence, Finding, Level, jsonable
from perfbook.redact import redact_url
from perfbook.rules import postgres_tables

BLOCKED_MIN_WAIT_S = 1.0  # row-lock waits of milliseconds are normal OLTP; a second is not
SLOW_STATEMENTS_SHOWN = 5


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Every PostgreSQL finding for this triage."""
    ev = evidence.get("postgres")
    if ev is None:
        return []
    if ev.status == "unavailable":
        return [_unreachable(ev, cfg)]
    data = usable(ev, PostgresEvidence)
    if data is None:
        return []
    return [
        *_pooler(data, cfg),
        *_stat_statements_missing(data),
        *_slow_queries(data, cfg),
        *_long_running(data, cfg),
        *_idle_in_transaction(data, cfg),
        *_blocked(data),
        *_connections(data, cfg),
        *postgres_tables.evaluate(data, cfg),
    ]


def kpis(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> dict[str, Any]:
    """``db_query_mean_ms``: mean statement time over the window; None when not measured."""
    ev = evidence.get("postgres")
    data = usable(ev, PostgresEvidence)
    if data is None or data.statements.status != "ok":
        return {"db_query_mean_ms": None}
    return {"db_query_mean_ms": data.statements.window_mean_ms}


def psql(dsn_var_sql: str) -> str:
    """The manual form: ``psql "$DSN" -c '…'`` (the DSN stays in the environment, not the report)."""
    return f"psql \"$DSN\" -c '{dsn_var_sql}'"


def _unreachable(ev: Evidence[Any], cfg: Config) -> Finding:
    target = redact_url(cfg.postgres.dsn) or "postgres"
    reason = ev.reason or ""
    if reason.startswith(POOLER_QUEUED):  # PgBouncer accepted perfbook and queued it like the application
        return finding(
            "pg.unreachable",
            target,
            f"PostgreSQL not reached, {reason}",
            evidence={"reason": reason, "pooler": "pgbouncer"},
            actions=[
                Action(
                    "pgbouncer.check",
                    "look at the pool perfbook queued in (or set [pgbouncer] dsn: "
                    "perfbook then reads it itself)",
                    manual="psql \"$PGBOUNCER_ADMIN_DSN\" -c 'SHOW POOLS'",
                )
            ],
        )
    if reason.startswith(POOLER_REFUSED):  # PgBouncer answered: PostgreSQL itself may be fine
        advice = pooler_refusal(reason) or "check PgBouncer's log"
        return finding(
            "pg.unreachable",
            target,
            f"{reason} (PgBouncer sits in front of PostgreSQL)",
            evidence={"reason": reason, "pooler": "pgbouncer", "advice": advice},
            actions=[
                Action(
                    "pgbouncer.check",
                    advice,
                    manual="psql \"$PGBOUNCER_ADMIN_DSN\" -c 'SHOW POOLS' -c 'SHOW DATABASES'",
                )
            ],
        )
    return finding(
        "pg.unreachable",
        target,
        f"PostgreSQL unreachable: {ev.reason}",
        evidence={"reason": ev.reason},
        actions=[Action("pg.check", "check the server and the DSN", manual='pg_isready -d "$DSN"')],
    )


def _pooler(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    """A pooler in the path changes what pg_stat_activity shows and how perfbook sets its timeouts: say so."""
    p = data.pooler
    if p is None or p.kind == "proxy":
        if data.settings_not_applied:  # no pooler found, and still the server did not take them
            return [
                finding(
                    "pg.pooler_in_path",
                    data.server.database,
                    f"perfbook's own settings not applied: {'; '.join(data.settings_not_applied)}",
                    evidence={
                        "settings_not_applied": data.settings_not_applied,
                        "own_settings": data.own_settings,
                        "pooler": jsonable(p) if p else None,
                    },
                )
            ]
        return []
    name = p.version or ("PgBouncer" if p.kind == "pgbouncer" else "a pooler")
    mode = f" in {p.pool_mode} pooling" if p.pool_mode else ""
    applied = (
        "perfbook's own settings not applied: " + "; ".join(data.settings_not_applied)
        if data.settings_not_applied
        else "perfbook's timeouts and read-only mode applied per transaction (SET LOCAL)"
    )
    return [
        finding(
            "pg.pooler_in_path",
            data.server.database,
            f"{name} sits between perfbook and PostgreSQL{mode}; {applied}",
            evidence={
                "pooler": jsonable(p),
                "own_settings": data.own_settings,
                "settings_not_applied": data.settings_not_applied,
            },
            actions=[
                Action(
                    "pgbouncer.probe",
                    "read the pools themselves: set [pgbouncer] dsn to its admin console",
                    manual="psql \"$PGBOUNCER_ADMIN_DSN\" -c 'SHOW POOLS'",
                )
            ]
            if p.kind == "pgbouncer" and not cfg.pgbouncer.dsn
            else [],
        )
    ]


def _stat_statements_missing(data: PostgresEvidence) -> list[Finding]:
    st = data.statements
    if st.status == "ok":
        return []
    db = data.server.database
    preload = data.server.settings.get("shared_preload_libraries")  # None: hidden from this role
    libraries = ",".join(filter(None, [(preload or "").strip(), "pg_stat_statements"]))
    preload_steps = [
        psql(f"ALTER SYSTEM SET shared_preload_libraries = $${libraries}$$"),
        "restart PostgreSQL (a reload is not enough)",
    ]
    steps = [psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")]
    if st.status == "not_preloaded" or (preload is not None and "pg_stat_statements" not in preload):
        steps = preload_steps + steps
    elif preload is None and st.status == "not_installed":
        steps.append(
            "if reading it then fails with 'must be loaded via shared_preload_libraries': "
            + " ; ".join(preload_steps)
        )
    if st.status == "unreadable":
        steps = [psql("GRANT pg_read_all_stats TO <the perfbook role>")]
    manual = " ; then ".join(steps)
    return [
        finding(
            "pg.stat_statements_missing",
            db,
            f"pg_stat_statements is {st.status.replace('_', ' ')}: slow statements cannot be named",
            evidence={
                "status": st.status,
                "detail": st.detail,
                "shared_preload_libraries": preload,
                "steps": steps,
            },
            actions=[
                Action(
                    "pg.enable_stat_statements",
                    f"enable pg_stat_statements (as a superuser, in database {db})",
                    manual=manual,
                )
            ],
        )
    ]


def _slow_queries(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    st, limit_ms = data.statements, cfg.thresholds.db_query_mean_ms
    slow = [s for s in st.top_by_mean if s.mean_ms is not None and s.mean_ms > limit_ms]
    if not slow:
        return []
    over = st.window_mean_ms is not None and st.window_mean_ms > limit_ms
    worst = slow[0]
    return [
        finding(
            "pg.slow_queries",
            data.server.database,
            f"{len(slow)} statement(s) slower than {limit_ms:g} ms in the window "
            f"(worst {worst.mean_ms:.0f} ms: {worst.query[:80]})",
            value=st.window_mean_ms if over else worst.mean_ms,
            threshold=limit_ms,
            unit="ms, window mean of all statements" if over else "ms, window mean of the slowest statement",
            level=Level.CRITICAL if over else Level.WARNING,
            evidence={
                "window_mean_ms": st.window_mean_ms,
                "window_calls": st.window_calls,
                "mean_column": st.mean_column,
                "statements": jsonable(slow[:SLOW_STATEMENTS_SHOWN]),
            },
            actions=[_explain(worst.query, data.server.version_num)],
        )
    ]


def _explain(query: str, version_num: int) -> Action:
    """The plan, never EXPLAIN ANALYZE: that runs the statement, and it may write."""
    if version_num >= 160000:  # PG 16 plans a normalised statement with its $n parameters as is
        return Action(
            "pg.explain",
            "look at the slowest statement's plan",
            manual=psql(f"EXPLAIN (GENERIC_PLAN) {query}"),
        )
    return Action(
        "pg.explain",
        "look at the slowest statement's plan",
        manual=psql(f"EXPLAIN {query}") + "  # put values in place of the $n parameters first",
    )


def _long_running(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    limit_s = cfg.thresholds.long_query_s
    out = []
    for s in data.active:
        if s.query_age_s is None or s.query_age_s <= limit_s:
            continue
        out.append(
            finding(
                "pg.long_running_query",
                f"pid {s.pid}",
                f"pid {s.pid} ({s.user}, {s.application or 'no application'}) "
                f"has run one statement for {s.query_age_s:.0f} s",
                value=s.query_age_s,
                threshold=limit_s,
                unit="s",
                evidence=jsonable(s),
                actions=[_cancel(s, data), _terminate(s, data)],
            )
        )
    return out


def _idle_in_transaction(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    limit_s = cfg.thresholds.idle_in_transaction_s
    idle = [s for s in data.idle_in_transaction if (s.state_age_s or 0) > limit_s]
    if not idle:
        return []
    blocking = {p for b in data.blocked for p in b.blocking_pids}
    oldest = idle[0]
    sessions = [
        {
            "pid": s.pid,
            "idle_s": s.state_age_s,
            "xact_age_s": s.xact_age_s,
            "user": s.user,
            "application": s.application,
            "client": s.client,
            "last_query": s.query,
            "blocks_others": s.pid in blocking,
        }
        for s in idle
    ]
    bulk_sql = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state LIKE $$idle in transaction%$$"
        f" AND state_change < now() - interval $${limit_s:g} seconds$$ AND backend_type = $$client backend$$"
    )
    return [
        finding(
            "pg.idle_in_transaction",
            data.server.database,
            f"{len(idle)} session(s) idle in a transaction, the oldest for {oldest.state_age_s:.0f} s "
            f"(pid {oldest.pid}, {oldest.application or oldest.user})",
            value=oldest.state_age_s,
            threshold=limit_s,
            unit="s idle in transaction",
            evidence={"sessions": sessions, "blocking_others": sorted(blocking & {s.pid for s in idle})},
            actions=[
                _terminate(oldest, data),
                action(
                    "pg.terminate",
                    f"end every session idle in a transaction over {limit_s:g} s",
                    psql(bulk_sql),
                    idle_in_transaction=True,
                    older_than_s=limit_s,
                    all_databases=True if any(_elsewhere(s, data) for s in idle) else None,
                ),
                Action(
                    "pg.idle_timeout",
                    "let the server end such sessions itself",
                    manual=psql(
                        "ALTER SYSTEM SET idle_in_transaction_session_timeout = $$5min$$; SELECT pg_reload_conf()"
                    ),
                ),
            ],
        )
    ]


def _blocked(data: PostgresEvidence) -> list[Finding]:
    waiting = [b for b in data.blocked if (b.session.query_age_s or 0) >= BLOCKED_MIN_WAIT_S]
    groups: dict[str, list[PgBlocked]] = {}
    for b in waiting:
        groups.setdefault(
            b.relation or f"pid {b.root_pids[0] if b.root_pids else b.blocking_pids[0]}", []
        ).append(b)
    blockers = {s.pid: s for s in data.blockers}
    return [_blocked_finding(subject, group, blockers, data) for subject, group in groups.items()]


def _blocked_finding(
    subject: str, group: list[PgBlocked], blockers: dict[int, PgSession], data: PostgresEvidence
) -> Finding:
    roots = sorted({p for b in group for p in (b.root_pids or b.blocking_pids)})
    longest = max(b.session.query_age_s or 0 for b in group)
    root_sessions = [blockers[p] for p in roots if p in blockers]
    actions = []
    for s in root_sessions:
        if s.backend_type not in (None, "client backend"):
            continue  # autovacuum / replication are never terminated by advice
        if s.state == "active":
            actions.append(_cancel(s, data))
        actions.append(_terminate(s, data))
    if actions:
        actions.append(
            action(
                "pg.terminate",
                "end every session at the head of a blocking chain",
                psql(
                    f"SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[{', '.join(map(str, roots))}]) AS pid"
                ),
                blocking=True,
                all_databases=True if any(_elsewhere(s, data) for s in root_sessions) else None,
            )
        )
    head = root_sessions[0] if root_sessions else None
    who = (
        f"pid {head.pid} ({head.state}, {head.application or head.user})"
        if head
        else f"pid {roots[0] if roots else '?'}"
    )
    mode = group[0].lock_mode or "a lock"
    return finding(
        "pg.blocked_queries",
        subject,
        f"{len(group)} session(s) waiting up to {longest:.0f} s for {mode} on {subject}, held by {who}",
        value=float(len(group)),
        threshold=0.0,
        unit="blocked sessions",
        evidence={
            "blocked": [
                {
                    "pid": b.session.pid,
                    "wait_s": b.session.query_age_s,
                    "lock_type": b.lock_type,
                    "lock_mode": b.lock_mode,
                    "relation": b.relation,
                    "query": b.session.query,
                    "blocking_pids": b.blocking_pids,
                    "root_pids": b.root_pids,
                }
                for b in group
            ],
            "blockers": [
                {
                    "pid": s.pid,
                    "state": s.state,
                    "xact_age_s": s.xact_age_s,
                    "state_age_s": s.state_age_s,
                    "query_start": s.query_start,
                    "query": s.query,
                    "user": s.user,
                    "application": s.application,
                }
                for s in root_sessions
            ],
        },
        actions=actions,
    )


def _connections(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    c, limit = data.connections, cfg.thresholds.connections_pct
    if c is None or c.used_pct < limit:
        return []
    actions: list[Action] = []
    if data.idle_in_transaction:
        actions.append(
            action(
                "pg.terminate",
                "free the slots held by sessions idle in a transaction",
                psql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = $$idle in transaction$$"
                ),
                idle_in_transaction=True,
                older_than_s=cfg.thresholds.idle_in_transaction_s,
            )
        )
    actions.append(
        Action(
            "pg.pooling",
            "put a pooler (PgBouncer) in front, or lower the app's pool size",
            manual=psql(
                "SELECT usename, application_name, state, count(*) FROM pg_stat_activity "
                "GROUP BY 1, 2, 3 ORDER BY 4 DESC"
            ),
        )
    )
    return [
        finding(
            "pg.connections_saturated",
            data.server.database,
            f"{c.total} of {c.usable} usable connections in use ({c.used_pct:.0f} %)",
            value=c.used_pct,
            threshold=limit,
            unit="% of max_connections less reserved",
            evidence=jsonable(c),
            actions=actions,
        )
    ]


def _elsewhere(s: PgSession, data: PostgresEvidence) -> bool | None:
    """True for a session of another database (the fix acts on perfbook's database unless told)."""
    return True if s.database and s.database != data.server.database else None


def _cancel(s: PgSession, data: PostgresEvidence) -> Action:
    return action(
        "pg.cancel",
        f"cancel the statement of pid {s.pid}",
        psql(f"SELECT pg_cancel_backend({s.pid})"),
        pid=s.pid,
        all_databases=_elsewhere(s, data),
    )


def _terminate(s: PgSession, data: PostgresEvidence) -> Action:
    return action(
        "pg.terminate",
        f"end the session of pid {s.pid}",
        psql(f"SELECT pg_terminate_backend({s.pid})"),
        pid=s.pid,
        all_databases=_elsewhere(s, data),
    )
