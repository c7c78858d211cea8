"""Turn the pgbouncer probe's SHOW answers into evidence: samples, window deltas, the pools' sizes. Pure.

Rows are dicts of the admin console's columns. SHOW STATS totals are diffed (end minus start): a
total that went down means PgBouncer restarted, and that database's window figures are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from perfbook.evidence.pgbouncer import (
    ADMIN_DATABASE,
    CONFIG_KEYS,
    OWN_APPLICATIONS,
    PgbouncerEvidence,
    PgbPool,
    PgbStats,
)

Row = dict[str, Any]


@dataclass
class Snapshot:
    """One read of the admin console (at the window's start or end)."""

    at: float  # clock() of the read
    pools: list[Row] = field(default_factory=list)
    stats: list[Row] = field(default_factory=list)
    clients: list[Row] = field(default_factory=list)
    config: list[Row] = field(default_factory=list)
    databases: list[Row] = field(default_factory=list)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def wait_s(row: Row, seconds: str = "maxwait", micros: str = "maxwait_us") -> float:
    """A wait from its seconds and microseconds columns.

    >>> wait_s({"maxwait": 3, "maxwait_us": 250000})
    3.25
    """
    return round(_int(row.get(seconds)) + _int(row.get(micros)) / 1e6, 6)


def config_map(rows: list[Row]) -> dict[str, str]:
    """SHOW CONFIG as ``{key: value}`` for the keys that matter (CONFIG_KEYS).

    >>> config_map([{"key": "pool_mode", "value": "transaction"}, {"key": "logfile", "value": "/x"}])
    {'pool_mode': 'transaction'}
    """
    return {str(r["key"]): str(r["value"]) for r in rows if r.get("key") in CONFIG_KEYS}


def own_waiting(clients: list[Row]) -> Counter[tuple[str, str]]:
    """perfbook's own clients waiting for a server connection, per (database, user).

    >>> own_waiting([{"database": "app", "user": "u", "state": "waiting", "application_name": "perfbook"},
    ...              {"database": "app", "user": "u", "state": "waiting", "application_name": "web"}])
    Counter({('app', 'u'): 1})
    """
    return Counter(
        (str(r.get("database")), str(r.get("user")))
        for r in clients
        if r.get("state") == "waiting" and r.get("application_name") in OWN_APPLICATIONS
    )


def build_pools(
    samples: list[list[Row]], databases: list[Row], config: dict[str, str], clients: list[Row] | None = None
) -> list[PgbPool]:
    """Each application pool at the window's end, with its waiting / active samples across it;
    perfbook's own waiting clients (from SHOW CLIENTS at the end) are left out of its end figure."""
    by_db = {str(r.get("name")): r for r in databases}
    own = own_waiting(clients or [])
    history: dict[tuple[str, str], list[Row]] = {}
    for sample in samples:
        for row in sample:
            if row.get("database") != ADMIN_DATABASE:
                history.setdefault((str(row["database"]), str(row["user"])), []).append(row)
    pools = []
    for (database, user), rows in history.items():
        end, entry = rows[-1], by_db.get(database, {})
        size = entry.get("pool_size")
        size = None if size is None or _int(size) < 0 else size  # -1: the database takes default_pool_size
        pools.append(
            PgbPool(
                database=database,
                user=user,
                pool_mode=str(end.get("pool_mode") or config.get("pool_mode") or ""),
                pool_size=_int(size) if size is not None else _default_size(config),
                max_db_connections=_int(entry.get("max_connections", config.get("max_db_connections"))),
                reserve_pool=_int(entry.get("reserve_pool", config.get("reserve_pool_size"))),
                cl_active=_int(end.get("cl_active")),
                cl_waiting=max(0, _int(end.get("cl_waiting")) - own[(database, user)]),
                own_waiting=own[(database, user)],
                sv_active=_int(end.get("sv_active")),
                sv_idle=_int(end.get("sv_idle")),
                sv_used=_int(end.get("sv_used")),
                sv_login=_int(end.get("sv_login")),
                maxwait_s=wait_s(end),
                cl_waiting_samples=[_int(r.get("cl_waiting")) for r in rows],
                sv_active_samples=[_int(r.get("sv_active")) for r in rows],
                maxwait_max_s=max(wait_s(r) for r in rows),
            )
        )
    return sorted(pools, key=lambda p: (-p.cl_waiting, -p.sv_active, p.key))


def _default_size(config: dict[str, str]) -> int | None:
    value = config.get("default_pool_size")
    return _int(value) if value is not None else None


STAT_KEYS = (
    "total_xact_count",
    "total_query_count",
    "total_xact_time",
    "total_query_time",
    "total_wait_time",
)


def build_stats(start: list[Row], end: list[Row]) -> tuple[list[PgbStats], bool]:
    """Per database window deltas of SHOW STATS (times are microseconds there), and whether a total
    went down (a restart: that database is left out rather than given a negative rate).

    >>> s = {"database": "app", "total_xact_count": 10, "total_query_count": 20, "total_xact_time": 0,
    ...      "total_query_time": 1000, "total_wait_time": 0}
    >>> e = dict(s, total_xact_count=14, total_query_count=28, total_query_time=9000, total_wait_time=2000000)
    >>> stats, reset = build_stats([s], [e])
    >>> (stats[0].xacts_window, stats[0].wait_time_s_window, stats[0].avg_wait_ms_window, reset)
    (4, 2.0, 500.0, False)
    """
    before = {str(r["database"]): r for r in start}
    out, reset = [], False
    for row in end:
        database = str(row["database"])
        if database == ADMIN_DATABASE:
            continue
        first = before.get(database, dict.fromkeys(STAT_KEYS, 0))  # a database first seen in the window
        delta = {k: _int(row.get(k)) - _int(first.get(k)) for k in STAT_KEYS}
        if any(v < 0 for v in delta.values()):
            reset = True
            continue
        xacts, queries = delta["total_xact_count"], delta["total_query_count"]
        out.append(
            PgbStats(
                database=database,
                xacts_window=xacts,
                queries_window=queries,
                xact_time_s_window=delta["total_xact_time"] / 1e6,
                query_time_s_window=delta["total_query_time"] / 1e6,
                wait_time_s_window=delta["total_wait_time"] / 1e6,
                avg_wait_ms_window=round(delta["total_wait_time"] / 1000 / xacts, 3) if xacts else None,
                avg_query_ms_window=round(delta["total_query_time"] / 1000 / queries, 3) if queries else None,
            )
        )
    return sorted(out, key=lambda s: (-s.xacts_window, s.database)), reset


def build_evidence(
    dsn: str, version: str | None, start: Snapshot, end: Snapshot, samples: list[list[Row]], notes: list[str]
) -> PgbouncerEvidence:
    """The evidence of one window: pools from the samples, stats diffed, clients and config at the end."""
    config_start, config = config_map(start.config), config_map(end.config)
    changed = {k: [config_start.get(k, ""), v] for k, v in config.items() if config_start.get(k, v) != v}
    stats, reset = build_stats(start.stats, end.stats)
    clients = [r for r in end.clients if r.get("database") != ADMIN_DATABASE]
    waits = [
        wait_s(r, "wait", "wait_us")
        for r in clients
        if r.get("state") == "waiting" and r.get("application_name") not in OWN_APPLICATIONS
    ]
    return PgbouncerEvidence(
        dsn=dsn,
        version=version,
        window_s=round(end.at - start.at, 3),
        samples=len(samples),
        pools=build_pools(samples, end.databases, config, clients),
        stats=stats,
        config=config,
        config_changed=changed,
        clients_by_state=dict(Counter(str(r.get("state")) for r in clients)),
        clients_total=len(clients),
        longest_client_wait_s=max(waits) if waits else None,
        reset_detected=reset,
        notes=notes,
    )
