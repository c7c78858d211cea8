"""PgBouncer rules: pgbouncer evidence -> findings about its pools. Pure.

A pool is *exhausted* when clients wait for a server connection at every sample of the window and
the oldest has waited over ``pgbouncer_maxwait_s`` (the runbook's "connection pool exhaustion":
requests queue in front of the database, invisible to PostgreSQL itself); *saturated* when every
server connection it may open is active through the window, or clients queue without waiting long
yet. Raising the pool helps only while PostgreSQL has room: the finding says what the server
connections are doing as far as PgBouncer knows (its transactions and query times in the window).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfbook.codes import action, finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.pgbouncer import PgbouncerEvidence, PgbPool, PgbStats
from perfbook.model import Action, Evidence, Finding, jsonable
from perfbook.redact import redact_url

ADMIN = 'psql "$PGBOUNCER_ADMIN_DSN"'  # the manual form: the admin DSN stays in the environment


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Every PgBouncer finding for this triage."""
    ev = evidence.get("pgbouncer")
    if ev is None:
        return []
    if ev.status == "unavailable":
        return [_unreachable(ev, cfg)]
    data = usable(ev, PgbouncerEvidence)
    if data is None:
        return []
    out: list[Finding] = []
    for pool in data.pools:
        found = _exhausted(pool, data, cfg) or _saturated(pool, data, cfg)
        if found is not None:
            out.append(found)
    return out


def _unreachable(ev: Evidence[Any], cfg: Config) -> Finding:
    return finding(
        "pgbouncer.unreachable",
        redact_url(cfg.pgbouncer.dsn) or "pgbouncer",
        f"PgBouncer admin console unreachable: {ev.reason}",
        evidence={"reason": ev.reason},
        actions=[
            Action(
                "pgbouncer.check",
                "check PgBouncer, and that the DSN's user is in admin_users or stats_users",
                manual=f"{ADMIN} -c 'SHOW VERSION'",
            )
        ],
    )


def _through_window(samples: list[int], at_least: int = 1) -> bool:
    """True when every sample (two at least: the window's start and end) is ``at_least`` or more."""
    return len(samples) >= 2 and min(samples) >= at_least


def _exhausted(pool: PgbPool, data: PgbouncerEvidence, cfg: Config) -> Finding | None:
    limit_s = cfg.thresholds.pgbouncer_maxwait_s
    if not _through_window(pool.cl_waiting_samples) or pool.maxwait_max_s < limit_s:
        return None
    size = "pool size unknown" if pool.server_cap is None else f"pool size {pool.server_cap}"
    return finding(
        "pgbouncer.pool_exhausted",
        pool.key,
        f"{pool.cl_waiting} client(s) wait for a server connection in PgBouncer pool {pool.key} through the window "
        f"({size}, {pool.sv_active} active); the oldest for {pool.maxwait_max_s:.1f} s",
        value=pool.maxwait_max_s,
        threshold=limit_s,
        unit="s the oldest waiting client waited (maxwait)",
        evidence=_evidence(pool, data),
        actions=_raise_actions(pool, data),
    )


def _saturated(pool: PgbPool, data: PgbouncerEvidence, cfg: Config) -> Finding | None:
    cap = pool.server_cap
    full = cap is not None and cap > 0 and _through_window(pool.sv_active_samples, cap)
    queued = _through_window(pool.cl_waiting_samples)
    if not full and not queued:
        return None
    used = f"{pool.sv_active} of {cap}" if cap is not None else f"{pool.sv_active}"
    waiting = (
        f"; {pool.cl_waiting} client(s) queue, the oldest for {pool.maxwait_max_s:.1f} s "
        f"(under {cfg.thresholds.pgbouncer_maxwait_s:g} s)"
        if queued
        else ""
    )
    return finding(
        "pgbouncer.pool_saturated",
        pool.key,
        f"every server connection of PgBouncer pool {pool.key} is busy through the window ({used} active){waiting}",
        value=float(pool.sv_active),
        threshold=float(cap) if cap is not None else None,
        unit="active server connections",
        evidence=_evidence(pool, data),
        actions=_raise_actions(pool, data),
    )


def _stats_of(pool: PgbPool, data: PgbouncerEvidence) -> PgbStats | None:
    return next((s for s in data.stats if s.database == pool.database), None)


def _evidence(pool: PgbPool, data: PgbouncerEvidence) -> dict[str, Any]:
    return {
        "database": pool.database,
        "user": pool.user,
        "pool_mode": pool.pool_mode,
        "pool_size": pool.pool_size,
        "max_db_connections": pool.max_db_connections,
        "server_cap": pool.server_cap,
        "cl_waiting": pool.cl_waiting,
        "cl_waiting_samples": pool.cl_waiting_samples,
        "cl_active": pool.cl_active,
        "own_waiting": pool.own_waiting,
        "sv_active": pool.sv_active,
        "sv_active_samples": pool.sv_active_samples,
        "sv_idle": pool.sv_idle,
        "maxwait_s": pool.maxwait_s,
        "maxwait_max_s": pool.maxwait_max_s,
        "stats_window": jsonable(_stats_of(pool, data)),
        "default_pool_size": data.config.get("default_pool_size"),
        "query_wait_timeout": data.config.get("query_wait_timeout"),
        "window_s": data.window_s,
    }


def suggested_size(pool: PgbPool) -> int:
    """A bigger pool for the waiting clients: the current size plus those waiting, at most doubled.

    >>> suggested_size(PgbPool("app", "app", "transaction", 2, 0, 0, 2, 18, 2, 0, 0, 0, 3.0))
    4
    """
    current = pool.server_cap or pool.sv_active or 1
    return current + max(1, min(pool.cl_waiting, current))


def _raise_actions(pool: PgbPool, data: PgbouncerEvidence) -> list[Action]:
    """Raise the cap that binds: max_db_connections when it is below the pool size, else default_pool_size
    (a runtime SET on the admin console; pgbouncer.ini keeps the old value until edited)."""
    new = suggested_size(pool)
    default = data.config.get("default_pool_size")
    look = Action(
        "pgbouncer.inspect",
        "see what the server connections run before making the pool bigger: "
        "a bigger pool only moves the queue into PostgreSQL when its statements are slow",
        manual=f"{ADMIN} -c 'SHOW SERVERS'; psql \"$DSN\" -c 'SELECT state, wait_event_type, query "
        "FROM pg_stat_activity WHERE backend_type = $$client backend$$'",
    )
    if pool.max_db_connections and pool.pool_size is not None and pool.max_db_connections < pool.pool_size:
        return [
            action(
                "pgbouncer.raise_pool_size",
                f"raise max_db_connections from {pool.max_db_connections} to {new}",
                f"{ADMIN} -c 'SET max_db_connections = {new}'  # and in pgbouncer.ini, to keep it",
                max_db_connections=new,
            ),
            look,
        ]
    if default is not None and pool.pool_size is not None and str(pool.pool_size) != default:
        return [
            Action(
                "pgbouncer.database_pool_size",
                f"raise pool_size of database {pool.database} in pgbouncer.ini [databases] "
                f"(it overrides default_pool_size {default}), then RELOAD",
                manual=f"edit pgbouncer.ini: {pool.database} = … pool_size={new}; {ADMIN} -c 'RELOAD'",
            ),
            look,
        ]
    return [
        action(
            "pgbouncer.raise_pool_size",
            f"raise default_pool_size from {pool.pool_size} to {new}",
            f"{ADMIN} -c 'SET default_pool_size = {new}'  # and in pgbouncer.ini, to keep it",
            pool_size=new,
        ),
        look,
    ]
