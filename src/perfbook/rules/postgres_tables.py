"""PostgreSQL table, index and buffer-cache rules (called from :mod:`perfbook.rules.postgres`). Pure.

``pg.missing_index`` names the table and, where pg_stat_statements has them, the statements that
read it and the columns they filter on, minus columns an index already leads with.
"""

from __future__ import annotations

from perfbook.codes import action, finding
from perfbook.config import Config
from perfbook.evidence.postgres import PgStatement, PgTable, PostgresEvidence
from perfbook.model import Action, Finding, Level

MIN_SEQ_SCANS = 10  # fewer whole-table reads is a report or a pg_dump, not a query pattern
UNUSED_INDEX_MIN_STATS_AGE_S = 7 * 86400  # a week of statistics before "never scanned" means anything
MIN_CACHE_BLOCKS = 10_000  # blocks read in the window before its hit ratio is worth judging


def psql(sql: str) -> str:
    """The manual form (kept here too so this module stands alone)."""
    return f"psql \"$DSN\" -c '{sql}'"


def evaluate(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    """Findings about tables, indexes and the buffer cache."""
    statements = _all_statements(data)
    out: list[Finding] = []
    for table in data.tables:
        out += _missing_index(table, statements, cfg, data.server.block_size)
        out += _dead_tuples(table, cfg)
    out += _index_findings(data)
    out += _cache(data, cfg)
    return out


def _all_statements(data: PostgresEvidence) -> list[PgStatement]:
    """Window statements first (what was slow now), then lifetime ones; one per queryid."""
    seen: set[int] = set()
    out = []
    st = data.statements
    for s in [*st.top_by_total, *st.top_by_mean, *st.lifetime_top]:
        if s.queryid not in seen:
            seen.add(s.queryid)
            out.append(s)
    return out


def seq_scans(table: PgTable) -> tuple[int, float, str]:
    """(sequential scans, their share of all scans, "window" | "lifetime") for this table.

    The window's deltas when it saw enough scans to judge — what the table is read by *now*, so
    an index created a minute ago counts at once — else the counters since the last reset.
    """
    window = table.seq_scan_window + (table.idx_scan_window or 0)
    if window >= MIN_SEQ_SCANS:
        return table.seq_scan_window, table.seq_scan_window / window, "window"
    scans = table.seq_scan + (table.idx_scan or 0)
    return table.seq_scan, (table.seq_scan / scans if scans else 0.0), "lifetime"


def _missing_index(
    table: PgTable, statements: list[PgStatement], cfg: Config, block_size: int
) -> list[Finding]:
    """Two ways in: the table's scan counters (mostly sequential), or a slow statement that reads the
    whole table filtering on columns no index leads with (the counters can be diluted by primary-key
    lookups, reset, or not yet flushed; pg_stat_statements is immediate)."""
    th = cfg.thresholds
    if table.rows < th.seq_scan_min_rows:
        return []
    seq, share, scope = seq_scans(table)
    by_counters = seq >= MIN_SEQ_SCANS and share >= th.seq_scan_share
    readers = [s for s in statements if table.name in s.tables]
    slow = [s for s in readers if s.mean_ms is not None and s.mean_ms > th.db_query_mean_ms]
    candidates = [
        (s, cols)
        for s in sorted(readers, key=lambda s: s not in slow)
        if (cols := _unindexed_columns(table, s))
    ]
    reader, columns = candidates[0] if candidates else (readers[0] if readers else None, [])
    whole = [s for s, _ in candidates if s in slow and _reads_whole_table(s, table, block_size)]
    if not by_counters and not whole:
        return []
    evidence = {
        "seq_scan": table.seq_scan,
        "idx_scan": table.idx_scan,
        "seq_share": round(share, 4),
        "seq_share_scope": scope,
        "rows": table.rows,
        "seq_tup_read": table.seq_tup_read,
        "seq_scan_window": table.seq_scan_window,
        "query": reader.query if reader else None,
        "query_mean_ms": reader.mean_ms if reader else None,
        "query_calls": reader.calls if reader else None,
        "columns": columns,
        "statements": [
            {"query": s.query, "calls": s.calls, "mean_ms": s.mean_ms, "filter_columns": s.filter_columns}
            for s in readers[:5]
        ],
        "existing_indexes": table.indexed_columns,
        "last_analyze": table.last_analyze or table.last_autoanalyze,
    }
    if any(c.startswith("lower(") for c in columns) or (reader and " like " in reader.query.lower()):
        evidence["note"] = (
            "LIKE 'prefix%' needs text_pattern_ops (or the C collation); '%infix%' needs pg_trgm"
        )
    title = (
        f"Sequential scans dominate reads of {table.name} ({table.rows:,} rows)"
        if by_counters
        else (f"A slow statement reads all of {table.name} ({table.rows:,} rows)")
    )
    if columns:
        title += f": filtered on {', '.join(columns)} without an index"
    actions = [_create_index(table.name, columns)]
    if table.last_analyze is None and table.last_autoanalyze is None:
        actions.append(_analyze(table.name))
    value: float | None
    if by_counters:
        value, threshold, unit = round(share, 4), th.seq_scan_share, "share of reads by seq scan"
    else:
        value, threshold, unit = (
            whole[0].mean_ms,
            th.db_query_mean_ms,
            "ms, mean of a statement reading the whole table",
        )
    return [
        finding(
            "pg.missing_index",
            table.name,
            title,
            value=value,
            threshold=threshold,
            unit=unit,
            evidence=evidence,
            actions=actions,
            level=Level.CRITICAL if slow else Level.WARNING,
        )
    ]


def _unindexed_columns(table: PgTable, statement: PgStatement) -> list[str]:
    """The statement's filter columns that are the table's and that no valid index leads with."""
    leading = {cols[0] for cols in table.indexed_columns if cols}
    known = set(table.columns)
    return [c for c in statement.filter_columns if (not known or _bare(c) in known) and c not in leading][:2]


def _reads_whole_table(statement: PgStatement, table: PgTable, block_size: int) -> bool:
    """At least half the table's pages touched per call: a scan, not an index lookup."""
    if not statement.calls or not table.heap_bytes:
        return False
    pages = (statement.shared_blks_hit + statement.shared_blks_read) / statement.calls
    return pages * block_size >= table.heap_bytes / 2


def _bare(column: str) -> str:
    return column[len("lower(") : -1] if column.startswith("lower(") else column


def _create_index(table: str, columns: list[str]) -> Action:
    if not columns:
        return Action(
            "pg.create_index",
            f"index the columns {table} is filtered on (pg_stat_statements has no reader)",
            manual=psql(f"CREATE INDEX CONCURRENTLY ON {table} (<column>)"),
        )
    ddl = f"CREATE INDEX CONCURRENTLY ON {table} ({', '.join(columns)})"
    if any("(" in c for c in columns):  # an expression index: perfbook's fix takes plain columns only
        return Action("pg.create_index", f"index {table} on {', '.join(columns)}: {ddl}", manual=psql(ddl))
    return action(
        "pg.create_index",
        f"index {table} ({', '.join(columns)}): {ddl}",
        psql(ddl),
        table=table,
        columns=columns,
    )


def _analyze(table: str) -> Action:
    return action(
        "pg.analyze",
        f"refresh the planner statistics of {table}",
        psql(f"ANALYZE VERBOSE {table}"),
        table=table,
    )


def _dead_tuples(table: PgTable, cfg: Config) -> list[Finding]:
    th = cfg.thresholds
    if (
        table.dead_ratio is None
        or table.dead_rows < th.dead_tuple_min_rows
        or table.dead_ratio < th.dead_tuple_ratio
    ):
        return []
    evidence = {
        "dead_rows": table.dead_rows,
        "rows": table.rows,
        "last_vacuum": table.last_vacuum,
        "last_autovacuum": table.last_autovacuum,
        "autovacuum_enabled": table.autovacuum_enabled,
    }
    actions = [
        action(
            "pg.vacuum",
            f"vacuum {table.name}",
            psql(f"VACUUM (VERBOSE, ANALYZE) {table.name}"),
            table=table.name,
        )
    ]
    if not table.autovacuum_enabled:
        actions.append(
            Action(
                "pg.autovacuum_on",
                f"let autovacuum look after {table.name} again",
                manual=psql(f"ALTER TABLE {table.name} RESET (autovacuum_enabled)"),
            )
        )
    why = "" if table.autovacuum_enabled else " (autovacuum is off for it)"
    return [
        finding(
            "pg.dead_tuples",
            table.name,
            f"{table.name} is {table.dead_ratio * 100:.0f} % dead tuples ({table.dead_rows:,} dead){why}",
            value=table.dead_ratio,
            threshold=th.dead_tuple_ratio,
            unit="dead / (live + dead)",
            evidence=evidence,
            actions=actions,
        )
    ]


def _index_findings(data: PostgresEvidence) -> list[Finding]:
    out: list[Finding] = []
    for dup in data.duplicate_indexes:
        keep, *drop = dup.indexes
        for name in drop:
            out.append(
                finding(
                    "pg.duplicate_index",
                    name,
                    f"{name} duplicates {keep} on {dup.table} ({', '.join(dup.columns)})",
                    evidence={
                        "table": dup.table,
                        "columns": dup.columns,
                        "keep": keep,
                        "wasted_bytes": dup.wasted_bytes,
                    },
                    actions=[
                        Action(
                            "pg.drop_index", f"drop {name}", manual=psql(f"DROP INDEX CONCURRENTLY {name}")
                        )
                    ],
                )
            )
    age = data.server.stats_age_s
    for ix in data.indexes:
        if not ix.valid:
            out.append(
                finding(
                    "pg.invalid_index",
                    ix.name,
                    f"{ix.name} on {ix.table} is invalid (a failed CREATE INDEX CONCURRENTLY?)",
                    evidence={"table": ix.table, "columns": ix.columns},
                    actions=[
                        Action(
                            "pg.reindex",
                            f"rebuild {ix.name}",
                            manual=psql(f"REINDEX INDEX CONCURRENTLY {ix.name}"),
                        )
                    ],
                )
            )
        elif (
            ix.scans == 0
            and not ix.unique
            and not ix.primary
            and age is not None
            and age >= UNUSED_INDEX_MIN_STATS_AGE_S
        ):
            out.append(
                finding(
                    "pg.unused_index",
                    ix.name,
                    f"{ix.name} on {ix.table} has not been scanned in {age / 86400:.0f} days of statistics",
                    value=float(ix.size_bytes),
                    unit="bytes",
                    evidence={
                        "table": ix.table,
                        "columns": ix.columns,
                        "size_bytes": ix.size_bytes,
                        "stats_reset": data.server.stats_reset,
                        "stats_age_s": age,
                    },
                    actions=[
                        Action(
                            "pg.drop_index",
                            f"drop {ix.name} (check replicas use it neither)",
                            manual=psql(f"DROP INDEX CONCURRENTLY {ix.name}"),
                        )
                    ],
                )
            )
    return out


def _cache(data: PostgresEvidence, cfg: Config) -> list[Finding]:
    cache, limit = data.cache, cfg.thresholds.pg_cache_hit_ratio
    if cache is None:
        return []
    # The window only: a lifetime ratio mostly remembers how the data was loaded and the cache warmed.
    if cache.hit_ratio_window is None or cache.blocks_window < MIN_CACHE_BLOCKS:
        return []
    ratio, scope, blocks = cache.hit_ratio_window, "window", cache.blocks_window
    if ratio >= limit:
        return []
    worst = sorted(
        (t for t in data.tables if t.heap_hit_ratio is not None), key=lambda t: t.heap_hit_ratio or 0.0
    )[:5]
    return [
        finding(
            "pg.cache_hit_low",
            data.server.database,
            f"buffer cache hit ratio {ratio * 100:.1f} % ({scope}), under {limit * 100:.0f} %",
            value=ratio,
            threshold=limit,
            unit=f"blks_hit / (hit + read), {scope}",
            evidence={
                "scope": scope,
                "blocks": blocks,
                "lifetime_ratio": cache.hit_ratio_lifetime,
                "per_database": cache.per_database,
                "shared_buffers": data.server.settings.get("shared_buffers"),
                "tables": {t.name: t.heap_hit_ratio for t in worst},
            },
            actions=[
                Action(
                    "pg.shared_buffers",
                    "give the buffer cache more memory (about 25 % of RAM), or find the scans reading from disk",
                    manual=psql("SHOW shared_buffers"),
                )
            ],
        )
    ]
