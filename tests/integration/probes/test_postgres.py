"""The postgres probe and rules against a real private PostgreSQL, each condition made for real.

A 1 s window; sessions that hold locks or sit idle in a transaction are ours, bounded by
statement_timeout / a join timeout, and closed in ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import psycopg
import pytest

from perfbook import services
from perfbook.config import Config
from perfbook.model import Evidence, Level, jsonable
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.postgres import PostgresProbe
from perfbook.rules import postgres as rules

WINDOW_S = 0.5
RECORD_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "evidence"


def config(dsn: str, **thresholds) -> Config:
    cfg = Config()
    cfg.postgres.dsn = dsn
    for key, value in thresholds.items():
        setattr(cfg.thresholds, key, value)
    return cfg


async def probe(cfg: Config, window_s: float = WINDOW_S) -> Evidence:
    ctx = ProbeContext(config=cfg, window_s=window_s, deadline=time.monotonic() + window_s + 1.0)
    return await run_probe(PostgresProbe(), ctx, budget_s=window_s + 1.0)


def codes(findings) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f.code, []).append(f)
    return out


def record(name: str, ev: Evidence) -> None:
    """PERFBOOK_RECORD=1 refreshes the recorded evidence the rules' unit tests read."""
    if os.environ.get("PERFBOOK_RECORD") == "1":
        (RECORD_DIR / name).write_text(json.dumps(jsonable(ev), indent=1, default=str) + "\n")


def flush_stats(conn: psycopg.Connection) -> None:
    # pg_stat_* is flushed at most once a second per backend; force it before the probe reads.
    conn.execute("SELECT pg_stat_force_next_flush()")


def make_users(conn: psycopg.Connection, rows: int = 20000) -> None:
    conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text, name text, password_hash text)")
    conn.execute(
        "INSERT INTO users (email, name) SELECT 'u' || g || '@example.org', 'n' || g "
        "FROM generate_series(1, %s) g",
        (rows,),
    )
    conn.execute("ANALYZE users")


async def test_large_table_scanned_without_index_is_a_critical_missing_index(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        make_users(conn)
        for i in range(15):
            conn.execute("SELECT id FROM users WHERE email = %s", (f"u{i}@example.org",))
        flush_stats(conn)
    ev = await probe(config(pg_dsn, db_query_mean_ms=0.5))
    assert ev.status == "ok", ev.reason
    (f,) = codes(rules.evaluate({"postgres": ev}, config(pg_dsn, db_query_mean_ms=0.5)))["pg.missing_index"]
    assert f.subject == "public.users" and f.level is Level.CRITICAL
    assert f.evidence["columns"] == ["email"] and "email = $1" in f.evidence["query"]
    assert f.evidence["seq_scan"] >= 15 and f.evidence["rows"] >= 10000
    assert f.actions[0].command == "perfbook fix pg.create_index --table public.users --columns email"
    assert "CREATE INDEX CONCURRENTLY ON public.users (email)" in f.actions[0].manual
    # with the default 100 ms limit these fast scans are not "slow": a warning
    (f,) = codes(rules.evaluate({"postgres": ev}, config(pg_dsn)))["pg.missing_index"]
    assert f.level is Level.WARNING
    record("postgres_missing_index.json", ev)


async def test_scans_during_the_window_show_as_window_statements(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        make_users(conn, rows=5000)
    stop = threading.Event()

    def load() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT count(*) FROM users WHERE lower(email) = lower(%s)", ("x@example.org",))
                time.sleep(0.02)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        ev = await probe(config(pg_dsn))
    finally:
        stop.set()
        worker.join(5)
    st = ev.data.statements
    assert st.status == "ok" and st.mean_column == "mean_exec_time"
    top = st.top_by_total[0]
    assert "lower(email) = lower($1)" in top.query and top.calls >= 5
    assert top.tables == ["public.users"] and top.filter_columns == ["lower(email)"]
    assert rules.kpis({"postgres": ev}, config(pg_dsn))["db_query_mean_ms"] > 0
    assert all("perfbook" not in s.query for s in st.lifetime_top)


async def test_dead_tuples_with_autovacuum_off(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id int, body text) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO events SELECT g, 'x' FROM generate_series(1, 5000) g")
        conn.execute("DELETE FROM events WHERE id <= 3000")
        flush_stats(conn)
    ev = await probe(config(pg_dsn))
    (f,) = codes(rules.evaluate({"postgres": ev}, config(pg_dsn)))["pg.dead_tuples"]
    assert f.subject == "public.events" and f.level is Level.WARNING
    assert f.value == pytest.approx(0.6, abs=0.01) and f.evidence["autovacuum_enabled"] is False
    assert f.actions[0].command == "perfbook fix pg.vacuum --table public.events"
    record("postgres_dead_tuples.json", ev)


async def test_a_session_waiting_on_a_lock_names_the_blocker(pg_dsn):
    holder = psycopg.connect(pg_dsn, autocommit=True, application_name="holder")
    waiter_error: list[Exception] = []
    try:
        holder.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
        holder.execute("INSERT INTO accounts VALUES (1, 100)")
        holder.execute("CREATE INDEX accounts_rich ON accounts (balance) WHERE balance > 1000")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")

        def wait_for_lock() -> None:
            try:
                with psycopg.connect(
                    pg_dsn, autocommit=True, application_name="waiter", options="-c statement_timeout=10000"
                ) as conn:
                    conn.execute("SELECT * FROM accounts")
            except psycopg.Error as err:
                waiter_error.append(err)

        waiter = threading.Thread(target=wait_for_lock, daemon=True)
        waiter.start()
        _wait_until_waiting(pg_dsn)
        ev = await probe(config(pg_dsn, idle_in_transaction_s=0.5))
    finally:
        holder.close()  # rolls back: the waiter gets its rows
        waiter.join(10)
    # nothing the probe reads waits behind the ACCESS EXCLUSIVE lock (sizes from pg_class, catalogs only)
    assert ev.status == "ok" and ev.duration_s <= WINDOW_S + 1.0, ev.data.notes
    found = codes(rules.evaluate({"postgres": ev}, config(pg_dsn, idle_in_transaction_s=0.5)))
    (f,) = found["pg.blocked_queries"]
    assert f.subject == "public.accounts" and f.level is Level.CRITICAL
    (blocked,) = f.evidence["blocked"]
    assert blocked["lock_mode"] == "AccessShareLock" and blocked["wait_s"] >= rules.BLOCKED_MIN_WAIT_S
    (blocker,) = f.evidence["blockers"]
    assert blocker["state"] == "idle in transaction" and blocker["application"] == "holder"
    assert blocker["pid"] == blocked["blocking_pids"][0] and blocker["query_start"]
    assert f.actions[0].command == f"perfbook fix pg.terminate --pid {blocker['pid']}"
    (idle,) = found["pg.idle_in_transaction"]
    assert idle.evidence["sessions"][0]["blocks_others"] is True
    assert ev.data.own_pid not in {s.pid for s in ev.data.active}
    assert not waiter_error
    record("postgres_blocked.json", ev)


def _wait_until_waiting(dsn: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT query_start FROM pg_stat_activity WHERE application_name = 'waiter' "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if row:
                time.sleep(0.6)  # with the probe's window, the wait is over BLOCKED_MIN_WAIT_S
                return
            time.sleep(0.02)
    pytest.fail("the waiter never waited on the lock")


async def test_a_session_idle_in_a_transaction(pg_dsn):
    with psycopg.connect(pg_dsn, application_name="forgetful") as idle:
        idle.execute("SELECT 1")  # psycopg opened a transaction and leaves it open
        ev = await probe(config(pg_dsn, idle_in_transaction_s=0.5))
        pid = idle.info.backend_pid
    (f,) = codes(rules.evaluate({"postgres": ev}, config(pg_dsn, idle_in_transaction_s=0.5)))[
        "pg.idle_in_transaction"
    ]
    session = f.evidence["sessions"][0]
    assert session["pid"] == pid and session["application"] == "forgetful" and session["idle_s"] >= 0.5
    assert f.actions[0].command == f"perfbook fix pg.terminate --pid {pid}"
    assert "--idle-in-transaction" in f.actions[1].command and "--older-than-s 0.5" in f.actions[1].command
    # the default limit (60 s) is a near miss for a 1 s old transaction
    assert "pg.idle_in_transaction" not in codes(rules.evaluate({"postgres": ev}, config(pg_dsn)))


async def test_duplicate_and_invalid_index(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int, customer_id int)")
        conn.execute("INSERT INTO orders VALUES (1, 7), (2, 7)")
        conn.execute("CREATE INDEX orders_customer ON orders (customer_id)")
        conn.execute("CREATE INDEX orders_customer_again ON orders (customer_id)")
        conn.execute("CREATE INDEX orders_customer_partial ON orders (customer_id) WHERE id > 0")
        with pytest.raises(psycopg.errors.UniqueViolation):  # leaves an INVALID index behind
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY orders_customer_unique ON orders (customer_id)")
    ev = await probe(config(pg_dsn))
    found = codes(rules.evaluate({"postgres": ev}, config(pg_dsn)))
    (f,) = found["pg.duplicate_index"]
    assert f.level is Level.INFO and f.evidence["columns"] == ["customer_id"]
    assert {f.subject, f.evidence["keep"]} == {"public.orders_customer", "public.orders_customer_again"}
    (invalid,) = found["pg.invalid_index"]
    assert invalid.subject == "public.orders_customer_unique" and invalid.level is Level.WARNING


async def test_row_lock_wait_names_the_row_s_table(pg_dsn):
    holder = psycopg.connect(pg_dsn, autocommit=True, application_name="row-holder")
    try:
        holder.execute("CREATE TABLE stock (id int PRIMARY KEY, qty int)")
        holder.execute("INSERT INTO stock VALUES (1, 10)")
        holder.execute("BEGIN")
        holder.execute("UPDATE stock SET qty = qty - 1 WHERE id = 1")
        waiter = threading.Thread(target=_update_stock, args=(pg_dsn,), daemon=True)
        waiter.start()
        _wait_until_waiting(pg_dsn)
        ev = await probe(config(pg_dsn))
    finally:
        holder.close()
        waiter.join(10)
    (f,) = codes(rules.evaluate({"postgres": ev}, config(pg_dsn)))["pg.blocked_queries"]
    (blocked,) = f.evidence["blocked"]
    assert f.subject == "public.stock" and blocked["lock_type"] == "transactionid"
    assert (
        blocked["lock_mode"] == "ShareLock"
        and blocked["query"] == "UPDATE stock SET qty = qty - ? WHERE id = ?"
    )


def _update_stock(dsn: str) -> None:
    with psycopg.connect(
        dsn, autocommit=True, application_name="waiter", options="-c statement_timeout=10000"
    ) as conn:
        conn.execute("UPDATE stock SET qty = qty - 1 WHERE id = 1")


async def test_long_running_statement_and_connection_share(pg_dsn):
    def sleeper() -> None:
        with psycopg.connect(pg_dsn, autocommit=True, application_name="report-job") as conn:
            conn.execute("SELECT pg_sleep(1.6)")

    threads = [threading.Thread(target=sleeper, daemon=True) for _ in range(5)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        cfg = config(pg_dsn, long_query_s=0.3, connections_pct=5.0)
        ev = await probe(cfg)
    finally:
        for t in threads:
            t.join(5)
    found = codes(rules.evaluate({"postgres": ev}, cfg))
    assert len(found["pg.long_running_query"]) == 5
    f = found["pg.long_running_query"][0]
    assert f.evidence["application"] == "report-job" and f.evidence["query"] == "SELECT pg_sleep(?)"
    assert [a.id for a in f.actions] == ["pg.cancel", "pg.terminate"]
    (conn,) = found["pg.connections_saturated"]
    assert conn.evidence["by_application"]["report-job"] == 5 and conn.evidence["usable"] == 97
    assert "perfbook" not in conn.evidence["by_application"]  # its own backend is never counted


async def test_healthy_database_has_no_warning_and_stays_in_budget(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        make_users(conn, rows=2000)
        conn.execute("CREATE INDEX ON users (email)")
        for i in range(50):
            conn.execute("SELECT id FROM users WHERE email = %s", (f"u{i}@example.org",))
        flush_stats(conn)
    ev = await probe(config(pg_dsn))
    assert ev.status == "ok", ev.reason
    assert ev.duration_s <= WINDOW_S + 1.0
    bad = [f for f in rules.evaluate({"postgres": ev}, config(pg_dsn)) if f.level is not Level.INFO]
    assert bad == []
    assert ev.data.connections.usable == 97 and ev.data.server.version_num >= 130000


async def test_a_plain_monitoring_role_says_what_it_cannot_see(pg_dsn, pg_server):
    role = f"mon_{os.getpid()}"
    admin = psycopg.connect(pg_dsn, autocommit=True)
    idle = psycopg.connect(pg_dsn, application_name="forgetful")
    try:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        idle.execute("SELECT 1")  # idle in a transaction, as another role
        dsn = pg_server.dsn(pg_dsn.rsplit("/", 1)[1], user=role)
        ev = await probe(config(dsn, idle_in_transaction_s=0.2))
        assert ev.status == "partial" and "GRANT pg_monitor" in ev.reason and ev.data.connections.hidden >= 1
        admin.execute(f"GRANT pg_monitor TO {role}")
        ev = await probe(config(dsn, idle_in_transaction_s=0.2))
        assert ev.status == "ok" and [s.application for s in ev.data.idle_in_transaction] == ["forgetful"]
    finally:
        idle.close()
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


async def test_privacy_no_password_or_email_in_any_output(pg_dsn):
    secret, email = "hunter2-Sup3rSecret", "ann.lee@example.com"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        make_users(conn, rows=10000)
        conn.execute(f"CREATE ROLE app_login LOGIN PASSWORD '{secret}'")
        for _ in range(12):
            conn.execute(f"SELECT * FROM users WHERE email = '{email}' AND password_hash = '{secret}'")
        flush_stats(conn)
    with psycopg.connect(pg_dsn) as idle:  # the raw text sits in pg_stat_activity
        idle.execute(f"SELECT id FROM users WHERE email = '{email}' /* {secret} */")
        ev = await probe(config(pg_dsn, idle_in_transaction_s=0.1, db_query_mean_ms=0.1))
    findings = rules.evaluate(
        {"postgres": ev}, config(pg_dsn, idle_in_transaction_s=0.1, db_query_mean_ms=0.1)
    )
    assert {"pg.idle_in_transaction", "pg.missing_index"} <= set(codes(findings))
    text = json.dumps(jsonable([ev, findings]), default=str)
    assert "users WHERE email = ?" in text or "email = $1" in text
    assert secret not in text and email not in text and "ann.lee" not in text


async def test_unreachable_port_is_one_line(closed_port):
    dsn = f"postgresql://app:pw@127.0.0.1:{closed_port}/app"
    ev = await probe(config(dsn))
    assert ev.status == "unavailable"
    assert ev.reason == f"connection refused at 127.0.0.1:{closed_port}"
    (f,) = rules.evaluate({"postgres": ev}, config(dsn))
    assert f.code == "pg.unreachable" and f.level is Level.CRITICAL and "pw" not in f.subject + f.title


async def test_no_dsn_is_skipped():
    ev = await probe(config(""))
    assert ev.status == "skipped" and ev.reason == "no [postgres] dsn"
    assert rules.evaluate({"postgres": ev}, config("")) == []


@pytest.fixture(scope="module")
def bare_pg():
    """A second server: pg_stat_statements NOT preloaded, and password auth for role 'pwuser'."""
    try:
        server = services.start_postgres(settings={"shared_preload_libraries": "''"})
    except services.ServiceUnavailable as err:
        if services.require_services():
            pytest.fail(str(err))
        pytest.skip(str(err))
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE ROLE pwuser LOGIN PASSWORD 'right-password'")
            hba = conn.execute("SHOW hba_file").fetchone()[0]
            lines = Path(hba).read_text()
            Path(hba).write_text("host all pwuser 127.0.0.1/32 scram-sha-256\n" + lines)
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


async def test_wrong_password_is_one_line(bare_pg):
    dsn = f"postgresql://pwuser:wrong-password@127.0.0.1:{bare_pg.port}/postgres"
    ev = await probe(config(dsn))
    assert ev.status == "unavailable"
    assert ev.reason == f"password authentication failed for user pwuser at 127.0.0.1:{bare_pg.port}"
    (f,) = rules.evaluate({"postgres": ev}, config(dsn))
    assert f.code == "pg.unreachable" and "wrong-password" not in json.dumps(jsonable(f))


async def test_without_pg_stat_statements_says_how_and_still_checks(bare_pg):
    with psycopg.connect(bare_pg.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id int) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO t SELECT g FROM generate_series(1, 3000) g")
        conn.execute("DELETE FROM t")
        flush_stats(conn)
    cfg = config(bare_pg.dsn())
    ev = await probe(cfg)
    assert ev.status == "ok" and ev.data.statements.status == "not_installed"
    found = codes(rules.evaluate({"postgres": ev}, cfg))
    (f,) = found["pg.stat_statements_missing"]
    assert (
        f.level is Level.INFO
        and "ALTER SYSTEM SET shared_preload_libraries = $$pg_stat_statements$$" in f.actions[0].manual
    )
    assert (
        "restart PostgreSQL" in f.actions[0].manual
        and "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in f.actions[0].manual
    )
    assert "pg.dead_tuples" in found  # the other checks still ran
    assert rules.kpis({"postgres": ev}, cfg) == {"db_query_mean_ms": None}
    with psycopg.connect(bare_pg.dsn(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    ev = await probe(cfg)
    assert ev.data.statements.status == "not_preloaded"
    assert "shared_preload_libraries" in ev.data.statements.detail


def test_probe_runs_under_a_running_event_loop_only_once(pg_dsn):
    # the probe is a coroutine: triage drives it; a plain asyncio.run works too
    ev = asyncio.run(probe(config(pg_dsn), window_s=0.2))
    assert ev.status == "ok" and ev.duration_s < 1.2 and ev.data.statements.window_calls == 0
