"""PostgreSQL rules and KPI on recorded evidence (tests/fixtures/evidence/postgres_*.json), with near misses.

The recordings come from tests/integration/probes/test_postgres.py (PERFBOOK_RECORD=1).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config
from perfbook.evidence.postgres import (
    PgCache,
    PgIndex,
    PgSession,
    PgStatement,
    PgStatStatements,
    PostgresEvidence,
)
from perfbook.model import Evidence, Level
from perfbook.probes.postgres_sql import mean_column, stat_statements_sql
from perfbook.rules import postgres as rules
from perfbook.rules import postgres_tables


def cfg(**thresholds) -> Config:
    c = Config()
    c.postgres.dsn = "postgresql://app:s3cret@db:5432/app"
    for key, value in thresholds.items():
        setattr(c.thresholds, key, value)
    return c


def run(data: PostgresEvidence, c: Config | None = None, status: str = "ok"):
    return rules.evaluate({"postgres": Evidence("postgres", status, 1.0, data=data)}, c or cfg())


def by_code(findings, code):
    return [f for f in findings if f.code == code]


@pytest.fixture
def missing(recorded) -> PostgresEvidence:
    return recorded("postgres_missing_index.json", PostgresEvidence).data


@pytest.fixture
def dead(recorded) -> PostgresEvidence:
    return recorded("postgres_dead_tuples.json", PostgresEvidence).data


@pytest.fixture
def blocked(recorded) -> PostgresEvidence:
    return recorded("postgres_blocked.json", PostgresEvidence).data


def users(data: PostgresEvidence):
    return next(t for t in data.tables if t.name == "public.users")


def with_users(data: PostgresEvidence, **changes) -> PostgresEvidence:
    return replace(
        data, tables=[replace(t, **changes) if t.name == "public.users" else t for t in data.tables]
    )


def statement(
    query: str, mean_ms: float, calls: int = 10, tables=("public.users",), columns=("email",)
) -> PgStatement:
    return PgStatement(
        queryid=hash(query),
        query=query,
        user="app",
        calls=calls,
        total_ms=mean_ms * calls,
        mean_ms=mean_ms,
        rows=calls,
        shared_blks_hit=0,
        shared_blks_read=0,
        tables=list(tables),
        filter_columns=list(columns),
    )


def session(pid: int, state: str, age_s: float) -> PgSession:
    return PgSession(
        pid=pid,
        user="app",
        application="api",
        client="10.0.0.5/32",
        state=state,
        query="SELECT ?",
        query_age_s=age_s,
        state_age_s=age_s,
        xact_age_s=age_s,
        backend_type="client backend",
    )


# pg.missing_index -----------------------------------------------------------------------------


def test_missing_index_names_table_query_columns_and_ddl(missing):
    (f,) = by_code(run(missing, cfg(db_query_mean_ms=0.5)), "pg.missing_index")
    assert (f.subject, f.level, f.value, f.threshold) == ("public.users", Level.CRITICAL, 1.0, 0.9)
    assert f.evidence["query"] == "SELECT id FROM users WHERE email = $1" and f.evidence["columns"] == [
        "email"
    ]
    assert f.actions[0].params == {"table": "public.users", "columns": ["email"]}
    assert f.actions[0].manual == "psql \"$DSN\" -c 'CREATE INDEX CONCURRENTLY ON public.users (email)'"


def test_missing_index_is_a_warning_when_no_reader_is_slow(missing):
    (f,) = by_code(run(missing), "pg.missing_index")
    assert f.level is Level.WARNING


@pytest.mark.parametrize(
    "change, thresholds",
    [
        ({"rows": 9999}, {}),  # just smaller than seq_scan_min_rows (10000)
        ({"seq_scan": postgres_tables.MIN_SEQ_SCANS - 1}, {}),  # too few scans to be a pattern
        ({"seq_scan": 16, "idx_scan": 2}, {}),  # 16 / 18 = 0.89 < seq_scan_share 0.9
    ],
)
def test_missing_index_near_misses(missing, change, thresholds):
    assert by_code(run(with_users(missing, **change), cfg(**thresholds)), "pg.missing_index") == []
    at_limit = with_users(missing, **{k: v + 1 for k, v in change.items() if k != "idx_scan"})
    if "idx_scan" not in change:
        assert by_code(run(at_limit, cfg(**thresholds)), "pg.missing_index")


def test_missing_index_from_a_slow_whole_table_reader_when_counters_are_diluted(missing):
    # primary-key lookups dilute the seq-scan share (and counters lag or get reset); the statement does not
    t = users(missing)
    pages = t.heap_bytes // missing.server.block_size
    reader = replace(
        statement("SELECT id, name FROM users WHERE email = $1", 133.0, calls=31), shared_blks_hit=31 * pages
    )
    data = replace(
        with_users(missing, idx_scan=10_000), statements=replace(missing.statements, top_by_total=[reader])
    )
    (f,) = by_code(run(data), "pg.missing_index")
    assert f.level is Level.CRITICAL and f.value == 133.0 and f.unit.startswith("ms")
    assert f.evidence["columns"] == ["email"] and "reads all of public.users" in f.title
    index_lookup = replace(reader, shared_blks_hit=31 * 4)  # a few pages per call: not a scan
    data = replace(data, statements=replace(missing.statements, top_by_total=[index_lookup], lifetime_top=[]))
    assert by_code(run(data), "pg.missing_index") == []


def test_missing_index_judges_the_window_when_it_saw_enough_scans(missing):
    """An index created a minute ago: lifetime counters still say 'scanned', the window says 'indexed'."""
    quiet = replace(
        missing, statements=replace(missing.statements, top_by_total=[], top_by_mean=[], lifetime_top=[])
    )
    indexed_now = with_users(quiet, seq_scan=5000, idx_scan=10, seq_scan_window=0, idx_scan_window=50)
    assert by_code(run(indexed_now), "pg.missing_index") == []
    scanned_now = with_users(quiet, seq_scan=40, idx_scan=10_000, seq_scan_window=40, idx_scan_window=0)
    (f,) = by_code(run(scanned_now), "pg.missing_index")
    assert f.value == 1.0 and f.evidence["seq_share_scope"] == "window"


def test_missing_index_skips_columns_an_index_already_leads_with(missing):
    data = with_users(missing, indexed_columns=[["id"], ["email"]])
    (f,) = by_code(run(data), "pg.missing_index")
    assert f.evidence["columns"] == [] and f.actions[0].command is None and "<column>" in f.actions[0].manual


def test_missing_index_with_lower_predicate_suggests_the_expression(missing):
    st = replace(
        missing.statements,
        lifetime_top=[
            statement("SELECT * FROM users WHERE lower(email) = lower($1)", 250.0, columns=("lower(email)",))
        ],
    )
    (f,) = by_code(run(replace(missing, statements=st)), "pg.missing_index")
    assert f.level is Level.CRITICAL and f.evidence["columns"] == ["lower(email)"]
    assert f.actions[0].command is None  # the fix takes plain columns; the DDL is in manual
    assert "CREATE INDEX CONCURRENTLY ON public.users (lower(email))" in f.actions[0].manual
    assert "text_pattern_ops" in f.evidence["note"]


# pg.dead_tuples -------------------------------------------------------------------------------


def test_dead_tuples_with_autovacuum_off(dead):
    (f,) = by_code(run(dead), "pg.dead_tuples")
    assert f.subject == "public.events" and f.value == pytest.approx(0.6) and "autovacuum is off" in f.title
    assert [a.id for a in f.actions] == ["pg.vacuum", "pg.autovacuum_on"]
    assert f.actions[0].command == "perfbook fix pg.vacuum --table public.events"


@pytest.mark.parametrize("thresholds", [{"dead_tuple_ratio": 0.61}, {"dead_tuple_min_rows": 3001}])
def test_dead_tuples_near_misses(dead, thresholds):
    assert by_code(run(dead, cfg(**thresholds)), "pg.dead_tuples") == []


# blocking and sessions ------------------------------------------------------------------------


def test_blocked_names_relation_mode_and_blocker(blocked):
    found = run(blocked, cfg(idle_in_transaction_s=0.5))
    (f,) = by_code(found, "pg.blocked_queries")
    assert (f.subject, f.level, f.value) == ("public.accounts", Level.CRITICAL, 1.0)
    blocker = f.evidence["blockers"][0]
    assert blocker["application"] == "holder" and blocker["state"] == "idle in transaction"
    # an idle-in-transaction blocker has no statement to cancel: terminate it, or every chain head
    assert [a.command for a in f.actions] == [
        f"perfbook fix pg.terminate --pid {blocker['pid']}",
        "perfbook fix pg.terminate --blocking",
    ]
    (idle,) = by_code(found, "pg.idle_in_transaction")
    assert idle.evidence["blocking_others"] == [blocker["pid"]]


def test_a_short_lock_wait_is_not_a_finding(blocked):
    b = blocked.blocked[0]
    short = replace(b, session=replace(b.session, query_age_s=rules.BLOCKED_MIN_WAIT_S - 0.01))
    assert by_code(run(replace(blocked, blocked=[short])), "pg.blocked_queries") == []


def test_idle_in_transaction_near_miss_at_default_limit(blocked):
    assert by_code(run(blocked), "pg.idle_in_transaction") == []


def test_long_running_query_over_and_under_the_limit(blocked):
    other_db = replace(session(12, "active", 400.0), database="reports")
    data = replace(blocked, active=[session(10, "active", 301.0), session(11, "active", 299.0), other_db])
    f, g = by_code(run(data), "pg.long_running_query")
    assert f.subject == "pid 10" and [a.id for a in f.actions] == ["pg.cancel", "pg.terminate"]
    assert f.actions[0].command == "perfbook fix pg.cancel --pid 10"
    assert g.actions[1].command == "perfbook fix pg.terminate --pid 12 --all-databases"


def test_connections_saturated_against_usable_slots(blocked):
    conn = blocked.connections
    assert (
        by_code(run(replace(blocked, connections=replace(conn, used_pct=79.9))), "pg.connections_saturated")
        == []
    )
    (f,) = by_code(
        run(replace(blocked, connections=replace(conn, used_pct=80.0))), "pg.connections_saturated"
    )
    assert f.level is Level.CRITICAL and f.actions[0].params["idle_in_transaction"] is True


# statements -----------------------------------------------------------------------------------


def test_slow_queries_warning_then_critical_with_the_window_mean(missing):
    slow, fast = statement("SELECT slow", 150.0, calls=2), statement("SELECT fast", 1.0, calls=1000)
    st = PgStatStatements(
        status="ok",
        mean_column="mean_exec_time",
        window_calls=1002,
        window_total_ms=1300.0,
        window_mean_ms=1.3,
        top_by_mean=[slow, fast],
        top_by_total=[fast, slow],
    )
    (f,) = by_code(run(replace(missing, statements=st)), "pg.slow_queries")
    assert f.level is Level.WARNING and f.value == 150.0
    assert "ANALYZE" not in f.actions[0].manual  # EXPLAIN ANALYZE would run (and maybe write)
    st = replace(st, window_calls=2, window_total_ms=300.0, window_mean_ms=150.0, top_by_mean=[slow])
    (f,) = by_code(run(replace(missing, statements=st)), "pg.slow_queries")
    assert f.level is Level.CRITICAL and f.value == 150.0
    assert rules.kpis(
        {"postgres": Evidence("postgres", "ok", 1, data=replace(missing, statements=st))}, cfg()
    ) == {"db_query_mean_ms": 150.0}


def test_slow_queries_near_miss(missing):
    st = PgStatStatements(
        status="ok",
        window_calls=10,
        window_total_ms=1000.0,
        window_mean_ms=100.0,
        top_by_mean=[statement("SELECT x", 100.0)],
    )
    assert by_code(run(replace(missing, statements=st)), "pg.slow_queries") == []


def test_stat_statements_not_preloaded_gives_the_steps(missing):
    st = PgStatStatements(
        status="not_preloaded", detail="pg_stat_statements must be loaded via shared_preload_libraries"
    )
    server = replace(
        missing.server, settings={**missing.server.settings, "shared_preload_libraries": "auto_explain"}
    )
    found = run(replace(missing, statements=st, server=server))
    (f,) = by_code(found, "pg.stat_statements_missing")
    assert f.level is Level.INFO and f.evidence["steps"][1] == "restart PostgreSQL (a reload is not enough)"
    assert f.evidence["steps"][0] == (
        "psql \"$DSN\" -c 'ALTER SYSTEM SET shared_preload_libraries = $$auto_explain,pg_stat_statements$$'"
    )
    assert (
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in f.actions[0].manual
        and f.actions[0].command is None
    )
    assert by_code(found, "pg.missing_index")  # the other checks still run
    assert rules.kpis(
        {"postgres": Evidence("postgres", "ok", 1, data=replace(missing, statements=st))}, cfg()
    ) == {"db_query_mean_ms": None}


# indexes and cache ----------------------------------------------------------------------------


def test_unused_index_only_with_old_enough_statistics(missing):
    ix = PgIndex("public.users_name", "public.users", ["name"], 8 * 2**20, 0, False, False, True)
    week = postgres_tables.UNUSED_INDEX_MIN_STATS_AGE_S
    young = replace(missing, indexes=[ix], server=replace(missing.server, stats_age_s=week - 1))
    assert by_code(run(young), "pg.unused_index") == []
    old = replace(missing, indexes=[ix], server=replace(missing.server, stats_age_s=week))
    (f,) = by_code(run(old), "pg.unused_index")
    assert (
        f.subject == "public.users_name"
        and f.level is Level.INFO
        and "DROP INDEX CONCURRENTLY" in f.actions[0].manual
    )
    unique = replace(old, indexes=[replace(ix, unique=True)])
    assert by_code(run(unique), "pg.unused_index") == []


def test_invalid_index(missing):
    ix = PgIndex("public.users_email", "public.users", ["email"], 0, 0, False, False, False)
    (f,) = by_code(run(replace(missing, indexes=[ix])), "pg.invalid_index")
    assert f.level is Level.WARNING and "REINDEX INDEX CONCURRENTLY public.users_email" in f.actions[0].manual


def test_cache_hit_low_prefers_the_window_and_needs_enough_blocks(missing):
    low = PgCache(
        hit_ratio_window=0.95, blocks_window=20_000, hit_ratio_lifetime=0.999, blocks_lifetime=10**7
    )
    (f,) = by_code(run(replace(missing, cache=low)), "pg.cache_hit_low")
    assert f.value == 0.95 and f.evidence["scope"] == "window"
    few = replace(low, blocks_window=postgres_tables.MIN_CACHE_BLOCKS - 1, hit_ratio_lifetime=0.9)
    assert by_code(run(replace(missing, cache=few)), "pg.cache_hit_low") == []  # lifetime: how it warmed up
    assert by_code(run(replace(missing, cache=replace(low, hit_ratio_window=0.99))), "pg.cache_hit_low") == []


# the probe's status ---------------------------------------------------------------------------


def test_unreachable_is_critical_and_redacted():
    ev = Evidence("postgres", "unavailable", 0.01, reason="connection refused at db:5432")
    (f,) = rules.evaluate({"postgres": ev}, cfg())
    assert f.code == "pg.unreachable" and f.level is Level.CRITICAL
    assert f.subject == "postgresql://app:***@db:5432/app" and f.title.endswith(
        "connection refused at db:5432"
    )


@pytest.mark.parametrize("status", ["skipped", "error"])
def test_skipped_or_error_gives_no_finding(status):
    ev = Evidence("postgres", status, 0.0, reason="no [postgres] dsn")
    assert rules.evaluate({"postgres": ev}, cfg()) == [] and rules.kpis({"postgres": ev}, cfg()) == {
        "db_query_mean_ms": None
    }
    assert rules.evaluate({}, cfg()) == []


def test_pg_stat_statements_columns_follow_the_server_version():
    # PG 13 renamed total_time -> total_exec_time: the runbook's query fails on 13+
    assert "s.total_time::float8" in stat_statements_sql(120000, True) and mean_column(120000) == "mean_time"
    assert (
        "s.total_exec_time::float8" in stat_statements_sql(150008, False)
        and mean_column(130000) == "mean_exec_time"
    )
    assert "FROM public.pg_stat_statements(false) s" in stat_statements_sql(150008, False)
    assert "FROM extensions.pg_stat_statements s" in stat_statements_sql(150008, True, "extensions")
    assert stat_statements_sql(150008, True).startswith("/* perfbook */")
