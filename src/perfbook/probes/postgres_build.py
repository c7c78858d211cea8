"""Turn the postgres probe's raw rows into evidence: snapshot diffs, selection, sanitising. Pure.

Separate from the I/O so the window arithmetic (deltas, resets) and what is left out (perfbook's
own statements and backend, non-client backends) can be read — and tested — on their own.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from perfbook.evidence.postgres import (
    PgBlocked,
    PgCache,
    PgConnections,
    PgDuplicateIndexes,
    PgIndex,
    PgPooler,
    PgSession,
    PgStatement,
    PgStatStatements,
    PgTable,
)
from perfbook.probes import postgres_sql as sql
from perfbook.redact import redact_text
from perfbook.sanitize import display_sql, filter_columns, referenced_tables

TOP_STATEMENTS = 10
HIDDEN = "<insufficient privilege>"  # what pg_stat_activity shows of other roles' sessions
TOP_TABLES_PER_ORDER = 25  # tables kept per ordering (size, seq reads, dead rows)
Row = dict[str, Any]


def _own(query: str | None) -> bool:
    """perfbook's own statement (this run, or another perfbook's)."""
    return bool(query) and sql.TAG in query  # type: ignore[operator]


def build_statements(
    stmts: tuple[list[Row], list[Row], tuple[str, str | None]], version_num: int, table_names: list[str]
) -> tuple[PgStatStatements, bool]:
    """Window deltas of pg_stat_statements (start vs end snapshot) and the lifetime top."""
    start_rows, end_rows, (status, detail) = stmts
    result = PgStatStatements(status=status, detail=detail, mean_column=sql.mean_column(version_num))
    if status != "ok":
        return result, False
    start = sql.by_key(start_rows, "user", "queryid")
    resolve = _resolver(table_names)
    window: list[PgStatement] = []
    lifetime: list[PgStatement] = []
    reset = False
    for row in end_rows:
        if _own(row.get("query")):
            continue
        lifetime.append(_statement(row, row, resolve))
        before = start.get((row["user"], row["queryid"]))
        delta = _delta(row, before)
        if delta["calls"] < 0 or delta["total_ms"] < -1e-6:
            reset = True
            continue
        if delta["calls"] > 0:
            window.append(_statement(row, delta, resolve))
    result.window_calls = sum(s.calls for s in window)
    result.window_total_ms = round(sum(s.total_ms for s in window), 3)
    result.window_mean_ms = (
        round(result.window_total_ms / result.window_calls, 3) if result.window_calls else None
    )
    result.top_by_mean = sorted(window, key=lambda s: -(s.mean_ms or 0))[:TOP_STATEMENTS]
    result.top_by_total = sorted(window, key=lambda s: -s.total_ms)[:TOP_STATEMENTS]
    result.lifetime_top = sorted(lifetime, key=lambda s: -s.total_ms)[:TOP_STATEMENTS]
    result.reset_detected = reset
    return result, reset


def _delta(end: Row, start: Row | None) -> Row:
    keys = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read")
    if start is None:  # first seen during the window
        return {k: end[k] for k in keys}
    return {k: end[k] - start[k] for k in keys}


def _statement(row: Row, figures: Row, resolve) -> PgStatement:
    text = row.get("query") or ""
    calls = int(figures["calls"])
    return PgStatement(
        queryid=row["queryid"],
        query=display_sql(text),
        user=row.get("user"),
        calls=calls,
        total_ms=round(figures["total_ms"], 3),
        mean_ms=round(figures["total_ms"] / calls, 3) if calls else None,
        rows=int(figures["rows"]),
        shared_blks_hit=int(figures["shared_blks_hit"]),
        shared_blks_read=int(figures["shared_blks_read"]),
        tables=[resolve(t) for t in referenced_tables(text)],
        filter_columns=filter_columns(text),
    )


def _resolver(table_names: list[str]):
    """Unqualified ``users`` -> ``public.users`` when exactly one table has that name."""
    by_name: dict[str, list[str]] = {}
    for name in table_names:
        by_name.setdefault(name.split(".", 1)[-1].lower(), []).append(name)

    def resolve(name: str) -> str:
        if "." in name:
            return name
        matches = by_name.get(name, [])
        return matches[0] if len(matches) == 1 else name

    return resolve


def select_tables(rows: list[Row], statements: PgStatStatements) -> list[Row]:
    """The tables worth judging: largest, most read by seq scans, most dead rows, and those the
    window's statements touch — bounded, so 10,000 tables cost what 100 do."""
    orders = [
        lambda r: r["table_bytes"] + r["toast_bytes"] + r["index_bytes"],
        lambda r: r["seq_tup_read"] or 0,
        lambda r: r["n_dead_tup"] or 0,
    ]
    chosen: dict[int, Row] = {}
    for order in orders:
        for row in sorted(rows, key=order, reverse=True)[:TOP_TABLES_PER_ORDER]:
            chosen[row["relid"]] = row
    touched = {t for s in statements.top_by_total for t in s.tables}
    chosen.update({r["relid"]: r for r in rows if r["name"] in touched})
    return list(chosen.values())


def build_tables(
    chosen: list[Row], start_rows: list[Row], columns: list[Row], index_rows: list[Row], settings: list[Row]
) -> tuple[list[PgTable], bool]:
    """PgTable per chosen table, with window deltas of its scan counters."""
    start = sql.by_key(start_rows, "relid")
    cols = {r["relid"]: r["columns"] for r in columns}
    indexed: dict[int, list[list[str]]] = {}
    for ix in index_rows:
        if ix["is_valid"]:
            indexed.setdefault(ix["relid"], []).append(list(ix["columns"]))
    autovacuum_on = next((r["setting"] == "on" for r in settings if r["name"] == "autovacuum"), True)
    tables, reset = [], False
    for row in chosen:
        before = start.get((row["relid"],), row)
        deltas = {k: (row[k] or 0) - (before[k] or 0) for k in ("seq_scan", "idx_scan", "seq_tup_read")}
        if any(v < 0 for v in deltas.values()):
            reset = True
            deltas = dict.fromkeys(deltas, 0)
        live, dead = row["n_live_tup"] or 0, row["n_dead_tup"] or 0
        rows = max(live, int(row["reltuples"] or 0))
        hit, read = row["heap_blks_hit"] or 0, row["heap_blks_read"] or 0
        tables.append(
            PgTable(
                name=row["name"],
                rows=rows,
                dead_rows=dead,
                dead_ratio=round(dead / (live + dead), 4) if live + dead else None,
                seq_scan=row["seq_scan"] or 0,
                seq_tup_read=row["seq_tup_read"] or 0,
                idx_scan=row["idx_scan"],
                seq_scan_window=deltas["seq_scan"],
                idx_scan_window=deltas["idx_scan"],
                seq_tup_read_window=deltas["seq_tup_read"],
                total_bytes=row["table_bytes"] + row["toast_bytes"] + row["index_bytes"],
                index_bytes=row["index_bytes"],
                heap_bytes=row["table_bytes"],
                heap_hit_ratio=round(hit / (hit + read), 4) if hit + read else None,
                mod_since_analyze=row["n_mod_since_analyze"] or 0,
                last_vacuum=_iso(row["last_vacuum"]),
                last_autovacuum=_iso(row["last_autovacuum"]),
                last_analyze=_iso(row["last_analyze"]),
                last_autoanalyze=_iso(row["last_autoanalyze"]),
                autovacuum_enabled=autovacuum_on and not row["autovacuum_off"],
                columns=list(cols.get(row["relid"], [])),
                indexed_columns=indexed.get(row["relid"], []),
            )
        )
    tables.sort(key=lambda t: -t.total_bytes)
    return tables, reset


def build_indexes(rows: list[Row]) -> tuple[list[PgIndex], list[PgDuplicateIndexes]]:
    """Indexes worth a look (invalid, unused, duplicate, largest) and the duplicate groups."""
    indexes = {r["name"]: _index(r) for r in rows}
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        if r["is_valid"]:
            key = (
                r["table_name"],
                tuple(r["columns"]),
                r["opclasses"],
                r["predicate_tree"],
                r["expressions_tree"],
            )
            groups.setdefault(key, []).append(r)
    duplicates = []
    for (table, columns, *_), members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda r: (not r["is_primary"], not r["is_unique"], -r["scans"], r["name"]))
        duplicates.append(
            PgDuplicateIndexes(
                table=table,
                columns=list(columns),
                indexes=[m["name"] for m in members],
                wasted_bytes=sum(m["size_bytes"] for m in members[1:]),
            )
        )
    keep = {name for d in duplicates for name in d.indexes}
    keep |= {n for n, ix in indexes.items() if not ix.valid}
    unused = [ix for ix in indexes.values() if ix.scans == 0 and not ix.unique and not ix.primary]
    keep |= {ix.name for ix in sorted(unused, key=lambda ix: -ix.size_bytes)[:20]}
    keep |= {ix.name for ix in sorted(indexes.values(), key=lambda ix: -ix.size_bytes)[:10]}
    chosen = sorted((indexes[n] for n in keep), key=lambda ix: -ix.size_bytes)
    return chosen, sorted(duplicates, key=lambda d: -d.wasted_bytes)


def _index(r: Row) -> PgIndex:
    return PgIndex(
        name=r["name"],
        table=r["table_name"],
        columns=list(r["columns"]),
        size_bytes=r["size_bytes"],
        scans=r["scans"],
        unique=r["is_unique"],
        primary=r["is_primary"],
        valid=r["is_valid"],
        partial=r["predicate_tree"] is not None,
    )


def client_rows(activity: list[Row]) -> list[Row]:
    """Client backends only: never autovacuum, walsender, parallel workers, nor another perfbook."""
    return [r for r in activity if r["backend_type"] == "client backend" and not _own(r["query"])]


def build_sessions(activity: list[Row]) -> list[PgSession]:
    """Every client session as PgSession, query text made safe."""
    return [_session(r) for r in client_rows(activity)]


def _session(r: Row) -> PgSession:
    return PgSession(
        pid=r["pid"],
        user=r["user"],
        application=r["application"] or None,
        client=r["client"],
        state=r["state"],
        query=display_sql(r["query"]),
        query_age_s=_round(r["query_age_s"]),
        state_age_s=_round(r["state_age_s"]),
        xact_age_s=_round(r["xact_age_s"]),
        query_start=_iso(r["query_start"]),
        wait_event_type=r["wait_event_type"],
        wait_event=r["wait_event"],
        backend_type=r["backend_type"],
        database=r["database"],
    )


def build_connections(activity: list[Row], settings: list[Row]) -> PgConnections | None:
    """Client connections vs max_connections less the reserved slots."""
    values = {r["name"]: r["setting"] for r in settings}
    if "max_connections" not in values:
        return None
    clients = [r for r in activity if r["backend_type"] == "client backend"]
    max_conn = int(values["max_connections"])
    reserved = int(values.get("superuser_reserved_connections", 0)) + int(
        values.get("reserved_connections", 0)
    )
    usable = max(1, max_conn - reserved)
    return PgConnections(
        total=len(clients),
        max_connections=max_conn,
        reserved=reserved,
        usable=usable,
        used_pct=round(len(clients) / usable * 100, 1),
        by_state=dict(Counter(r["state"] or "unknown" for r in clients)),
        by_user=dict(Counter(r["user"] or "unknown" for r in clients)),
        by_application=dict(Counter(r["application"] or "(none)" for r in clients)),
        hidden=sum(1 for r in activity if r["query"] == HIDDEN and r["user"] is not None),  # not bg workers
    )


def build_cache(db: tuple[list[Row] | None, list[Row] | None], databases: list[Row]) -> PgCache | None:
    """Buffer cache hit ratio of this database over the window and lifetime."""
    start, end = db
    if not end:
        return None
    e = end[0]
    s = start[0] if start else e
    hit_w, read_w = e["blks_hit"] - s["blks_hit"], e["blks_read"] - s["blks_read"]
    if hit_w < 0 or read_w < 0:
        hit_w = read_w = 0
    per_db = {
        r["datname"]: round(r["blks_hit"] / (r["blks_hit"] + r["blks_read"]), 4)
        for r in databases
        if (r["blks_hit"] or 0) + (r["blks_read"] or 0) > 0
    }
    total = e["blks_hit"] + e["blks_read"]
    return PgCache(
        hit_ratio_window=round(hit_w / (hit_w + read_w), 4) if hit_w + read_w else None,
        blocks_window=hit_w + read_w,
        hit_ratio_lifetime=round(e["blks_hit"] / total, 4) if total else None,
        blocks_lifetime=total,
        per_database=per_db,
    )


def build_blocking(
    sessions: list[PgSession], activity: list[Row], locks: list[Row]
) -> tuple[list[PgBlocked], list[PgSession]]:
    """Blocked sessions with their lock, relation and chain roots; the sessions blocking them."""
    by_pid = {r["pid"]: r for r in activity}
    waits = {r["pid"]: list(r["blocking_pids"]) for r in activity if r.get("blocking_pids")}
    waiting_lock = {lk["pid"]: lk for lk in locks if not lk["granted"]}
    tuple_rel = {lk["pid"]: lk["relation"] for lk in locks if lk["locktype"] == "tuple" and lk["relation"]}
    sessions_by_pid = {s.pid: s for s in sessions}
    blocked: list[PgBlocked] = []
    for pid, blockers in waits.items():
        session = sessions_by_pid.get(pid) or (_session(by_pid[pid]) if pid in by_pid else None)
        if session is None or session.backend_type != "client backend" or _own(by_pid[pid]["query"]):
            continue
        lock = waiting_lock.get(pid, {})
        blocked.append(
            PgBlocked(
                session=session,
                blocking_pids=blockers,
                lock_type=lock.get("locktype"),
                lock_mode=lock.get("mode"),
                relation=lock.get("relation") or tuple_rel.get(pid),
                root_pids=_roots(pid, waits),
            )
        )
    blocker_pids = {p for b in blocked for p in b.blocking_pids} - set(waits)
    blocker_pids |= {p for b in blocked for p in b.root_pids}
    blockers_out = [_session(by_pid[p]) for p in sorted(blocker_pids) if p in by_pid]
    return sorted(blocked, key=lambda b: -(b.session.query_age_s or 0)), blockers_out


def _roots(pid: int, waits: dict[int, list[int]]) -> list[int]:
    """Heads of the blocking chain above ``pid`` (sessions that block but wait on nobody)."""
    roots: list[int] = []
    seen, todo = {pid}, list(waits.get(pid, []))
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if waits.get(p):
            todo.extend(waits[p])
        elif p not in roots:
            roots.append(p)
    return sorted(roots)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


WANTED_SETTINGS = ("statement_timeout", "lock_timeout", "transaction_read_only")


def settings_check(server_row: Row, wanted: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """perfbook's own settings as the server reports them inside its transaction, and those it did not take.

    >>> settings_check({"statement_timeout": "3s", "lock_timeout": "0", "transaction_read_only": "on"},
    ...                {"statement_timeout": "3s", "lock_timeout": "100ms", "transaction_read_only": "on"})[1]
    ['lock_timeout (asked 100ms, the server has 0)']
    """
    own = {k: str(server_row.get(k)) for k in WANTED_SETTINGS if server_row.get(k) is not None}
    missing = [
        f"{k} (asked {v}, the server has {own.get(k, 'nothing')})"
        for k, v in wanted.items()
        if own.get(k) != v
    ]
    return own, missing


def pg_duration(ms: int) -> str:
    """A duration in ms as ``current_setting`` shows it.

    >>> pg_duration(3000), pg_duration(100), pg_duration(0), pg_duration(60000)
    ('3s', '100ms', '0', '1min')
    """
    if ms == 0:
        return "0"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


POOLER_NOTES = {
    "transaction": "transaction pooling: each of perfbook's reads may run on another server connection; "
    "pg_stat_activity shows PgBouncer's server connections (client address: the pooler), "
    "not the application's clients",
    "session": "session pooling: pg_stat_activity shows PgBouncer's server connections (client address: the pooler)",
}


def build_pooler(
    connected_port: int | None,
    server_port: int | None,
    backend_pids: set[int],
    admin: tuple[str, str] | None,
    pool_mode: str | None = None,
) -> PgPooler | None:
    """The pooler in the path, from what the server and the address answered (None: nothing between).

    ``admin`` is what a ``pgbouncer`` database at perfbook's address answered: ``("version",
    "PgBouncer 1.18.0")``, ``("refused", reason)`` or ``("absent", reason)`` (PostgreSQL: no such
    database); None when not asked.

    >>> build_pooler(6432, 5432, {10, 11}, ("version", "PgBouncer 1.18.0")).pool_mode
    'transaction'
    >>> build_pooler(5432, 5432, {10}, None) is None
    True
    """
    moved = connected_port is not None and server_port is not None and connected_port != server_port
    where = (
        f"PostgreSQL listens on port {server_port}, perfbook connected to {connected_port}" if moved else ""
    )
    if pool_mode is None and len(backend_pids) > 1:
        pool_mode = "transaction"
    if admin is not None and admin[0] in ("version", "refused"):
        kind = "pgbouncer"
        answer = f"answers as {admin[1]}" if admin[0] == "version" else f"refused perfbook ({admin[1]})"
        how = "; ".join(
            filter(
                None,
                [
                    where,
                    f"the same address has PgBouncer's admin console (`pgbouncer` database), which {answer}",
                ],
            )
        )
    elif len(backend_pids) > 1:
        kind, how = (
            "pooler",
            "; ".join(
                filter(
                    None,
                    [
                        where,
                        f"perfbook's transactions ran on {len(backend_pids)} "
                        "different server backends (transaction pooling)",
                    ],
                )
            ),
        )
    elif moved:
        kind, how = "proxy", f"{where} (a port mapping, a proxy or a pooler in session mode)"
    else:
        return None
    notes = [POOLER_NOTES[pool_mode]] if pool_mode in POOLER_NOTES else []
    return PgPooler(
        kind=kind,
        how=how,
        connected_port=connected_port,
        server_port=server_port,
        version=admin[1] if admin is not None and admin[0] == "version" else None,
        pool_mode=pool_mode,
        backend_pids=max(1, len(backend_pids)),
        notes=notes,
    )


def connect_reason(message: str) -> str:
    """libpq's multi-line connection error as one line, without the host preamble.

    >>> connect_reason('connection failed: connection to server at "127.0.0.1", port 5 failed: '
    ...                'FATAL:  password authentication failed for user "x"')
    'password authentication failed for user x'
    >>> connect_reason('connection failed: connection to server at "127.0.0.1", port 5 failed: '
    ...                'Connection refused\\n\\tIs the server running on that host?')
    'connection refused'
    """
    text = one_line(message)
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(r"^.*port \d+ failed:\s*", "", text)
    text = re.sub(r"^(?:FATAL|ERROR):\s*", "", text).replace('"', "")
    text = text.split(" Is the server running")[0].strip()
    if text[1:2].islower():  # "Connection refused" -> "connection refused", keep "SSL …"
        text = text[0].lower() + text[1:]
    return redact_text(text)


def one_line(text: str) -> str:
    """Collapse whitespace and newlines."""
    return " ".join(text.split())
