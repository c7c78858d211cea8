"""The SQL the postgres probe runs: every statement read-only, bounded and tagged ``/* perfbook */``.

Each statement runs in its own autocommit transaction, so each ``pg_stat_*`` read is a fresh
snapshot (PG 15 caches statistics for the length of a transaction). No size function is called on
a relation: sizes come from ``pg_class.relpages`` (``pg_total_relation_size`` waits behind an
ACCESS EXCLUSIVE lock).
"""

from __future__ import annotations

from typing import Any

TAG = "/* perfbook */"

SETTINGS = (
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "autovacuum",
    "autovacuum_naptime",
    "autovacuum_vacuum_scale_factor",
    "track_counts",
    "track_activities",
    "shared_preload_libraries",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "max_parallel_workers_per_gather",
    "pg_stat_statements.track",
)

SERVER = f"""{TAG} SELECT current_setting('server_version') AS version,
  current_setting('server_version_num')::int AS version_num,
  extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime_s,
  current_database() AS database, pg_backend_pid() AS own_pid,
  current_setting('block_size')::int AS block_size, current_setting('port')::int AS server_port,
  current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout,
  current_setting('transaction_read_only') AS transaction_read_only"""

# Read in the admin console of a PgBouncer (the `pgbouncer` virtual database): its one-line answer.
PGBOUNCER_VERSION = "SHOW VERSION"


def transaction_start(statement_timeout_ms: int, lock_timeout_ms: int) -> str:
    """Each read runs in its own read-only transaction that sets perfbook's timeouts with SET LOCAL:
    no startup ``options`` (PgBouncer refuses them), and nothing left on a pooled server connection.
    One round trip (simple query protocol); the tag ends each statement, so pg_stat_statements keeps it.

    >>> print(transaction_start(3000, 100).replace("; ", ";\\n"))
    BEGIN READ ONLY /* perfbook */;
    SET LOCAL statement_timeout = 3000 /* perfbook */;
    SET LOCAL lock_timeout = 100 /* perfbook */
    """
    return (
        f"BEGIN READ ONLY {TAG}; SET LOCAL statement_timeout = {int(statement_timeout_ms)} {TAG}; "
        f"SET LOCAL lock_timeout = {int(lock_timeout_ms)} {TAG}"
    )


COMMIT = f"COMMIT {TAG}"
ROLLBACK = f"ROLLBACK {TAG}"

SETTINGS_SQL = f"""{TAG} SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)"""

DATABASES = f"""{TAG} SELECT d.datname, pg_database_size(d.oid)::int8 AS size_bytes,
  s.blks_hit, s.blks_read, s.numbackends
FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datallowconn AND has_database_privilege(d.oid, 'CONNECT')
ORDER BY 2 DESC LIMIT 50"""

# Counters read at the window's start and end; the diff is what happened during the window.
DB_COUNTERS = f"""{TAG} SELECT pg_backend_pid() AS backend_pid, blks_hit, blks_read, xact_commit, xact_rollback,
  deadlocks, temp_bytes,
  stats_reset, extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))::float8 AS stats_age_s
FROM pg_stat_database WHERE datname = current_database()"""

TABLES = f"""{TAG} SELECT s.relid, s.schemaname || '.' || s.relname AS name, s.seq_scan, s.seq_tup_read,
  s.idx_scan, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
  s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
  io.heap_blks_hit, io.heap_blks_read, c.reltuples::float8 AS reltuples,
  c.relpages::int8 * %(block_size)s AS table_bytes,
  coalesce(t.relpages, 0)::int8 * %(block_size)s AS toast_bytes,
  coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = s.relid), 0)::int8 * %(block_size)s AS index_bytes,
  coalesce(c.reloptions::text[] @> ARRAY['autovacuum_enabled=false']
           OR c.reloptions::text[] @> ARRAY['autovacuum_enabled=off'], false) AS autovacuum_off
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN pg_statio_user_tables io ON io.relid = s.relid
ORDER BY c.relpages DESC, s.relid LIMIT 10000"""  # bounded: a schema-per-tenant database can hold 100,000

COLUMNS = f"""{TAG} SELECT a.attrelid AS relid, array_agg(a.attname::text ORDER BY a.attnum) AS columns
FROM pg_attribute a WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY a.attrelid"""

# No pg_get_indexdef / pg_get_expr: they take AccessShareLock on the table, and so wait behind an
# ACCESS EXCLUSIVE lock (found by tests/integration/probes/test_postgres.py). Key columns come from
# pg_attribute; expressions and predicates are compared as stored node trees.
INDEXES = f"""{TAG} SELECT n.nspname || '.' || c.relname AS name, tn.nspname || '.' || t.relname AS table_name,
  x.indrelid AS relid, x.indisunique AS is_unique, x.indisprimary AS is_primary,
  x.indisvalid AND x.indisready AS is_valid, c.relpages::int8 * %(block_size)s AS size_bytes,
  coalesce(s.idx_scan, 0) AS scans, x.indclass::text AS opclasses,
  x.indpred::text AS predicate_tree, x.indexprs::text AS expressions_tree,
  ARRAY(SELECT coalesce(a.attname::text, '(expression)')
        FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
        WHERE k.ord <= x.indnkeyatts ORDER BY k.ord) AS columns
FROM pg_index x
JOIN pg_class c ON c.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
WHERE tn.nspname NOT IN ('pg_catalog', 'information_schema') AND tn.nspname NOT LIKE 'pg\\_toast%%'
LIMIT 20000"""

# Read at the end. pg_blocking_pids only for sessions waiting on a lock: it takes the lock
# manager's partition locks, so it is not called for every backend.
ACTIVITY = f"""{TAG} SELECT pid, usename AS user, application_name AS application, client_addr::text AS client,
  backend_type, state, wait_event_type, wait_event, datname AS database,
  extract(epoch FROM now() - query_start)::float8 AS query_age_s,
  extract(epoch FROM now() - state_change)::float8 AS state_age_s,
  extract(epoch FROM now() - xact_start)::float8 AS xact_age_s,
  query_start, left(query, 4000) AS query,
  CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END AS blocking_pids
FROM pg_stat_activity WHERE pid <> pg_backend_pid()"""

WAITING_LOCKS = f"""{TAG} SELECT l.pid, l.locktype, l.mode, l.granted, n.nspname || '.' || c.relname AS relation
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = ANY(%s) AND (NOT l.granted OR l.locktype = 'tuple')"""

# The extension may live in any schema (e.g. "extensions" on managed services): qualify by it.
STAT_STATEMENTS_INSTALLED = f"""{TAG} SELECT extversion, quote_ident(extnamespace::regnamespace::text) AS schema
FROM pg_extension WHERE extname = 'pg_stat_statements'"""


def stat_statements_sql(version_num: int, with_text: bool, schema: str = "public") -> str:
    """The version-aware pg_stat_statements read for the current database.

    PG 13 renamed ``total_time`` -> ``total_exec_time`` (the runbook's query fails on 13+).
    Without text at the window's start: reading texts means reading the query file.
    """
    total = "total_exec_time" if version_num >= 130000 else "total_time"
    text = ", s.query" if with_text else ""
    source = f"{schema}.pg_stat_statements" + ("" if with_text else "(false)")
    return (
        f"{TAG} SELECT s.userid::regrole::text AS user, s.queryid, s.calls, s.{total}::float8 AS total_ms,"
        f" s.rows, s.shared_blks_hit, s.shared_blks_read{text}"
        f" FROM {source} s WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        f" AND s.queryid IS NOT NULL"
    )


def mean_column(version_num: int) -> str:
    """The name of the mean-time column on this server (reported so the reader can reproduce)."""
    return "mean_exec_time" if version_num >= 130000 else "mean_time"


def settings_bytes(setting: str, unit: str | None) -> int | None:
    """pg_settings' ``setting`` in bytes where its unit is a size (``8kB`` pages, ``kB``, ``MB``).

    >>> settings_bytes("16384", "8kB"), settings_bytes("4096", "kB"), settings_bytes("on", None)
    (134217728, 4194304, None)
    """
    scale = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}.get(unit or "")
    try:
        return int(setting) * scale if scale else None
    except ValueError:
        return None


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[tuple, dict[str, Any]]:
    """Rows indexed by a tuple of column values (to diff two snapshots)."""
    return {tuple(row[k] for k in keys): row for row in rows}
