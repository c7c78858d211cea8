"""pg.* fixes performed for real on a private PostgreSQL, checked from the outside."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from fixkit import Runner, make_cfg


@pytest.fixture
def run(pg_dsn: str, tmp_path, store) -> Runner:
    return Runner(make_cfg(tmp_path, postgres={"dsn": pg_dsn}), store)


def _wait(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _scalar(dsn: str, sql: str, params=()):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_lock_holder_terminated_and_blocked_statement_completes(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE acct (id int PRIMARY KEY, v int); INSERT INTO acct VALUES (1, 0)")
    holder = psycopg.connect(pg_dsn)
    holder.execute("UPDATE acct SET v = 1 WHERE id = 1")  # transaction left open: holds the row lock
    holder_pid = holder.info.backend_pid
    done = threading.Event()

    def blocked() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("UPDATE acct SET v = 2 WHERE id = 1")
        done.set()

    worker = threading.Thread(target=blocked, daemon=True)
    worker.start()
    _wait(
        lambda: _scalar(pg_dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == 1
    )

    plan = run.plan("pg.terminate", blocking=True)
    assert [a["pid"] for a in plan.affects] == [holder_pid]
    assert (
        plan.affects[0]["state"] == "idle in transaction"
        and "UPDATE acct SET v = ?" in plan.affects[0]["query"]
    )
    assert not done.is_set(), "a plan must not change anything"

    result = run.apply("pg.terminate", blocking=True)
    assert result.outcome.status == "done", result.outcome
    assert done.wait(5), "the blocked statement did not complete after its blocker was terminated"
    assert _scalar(pg_dsn, "SELECT v FROM acct WHERE id = 1") == 2
    assert result.outcome.figures["blocked sessions"] == {"before": 1, "after": 0}
    with pytest.raises(psycopg.OperationalError):
        holder.execute("SELECT 1")
    holder.close()
    assert [(r["mode"], r["outcome"]) for r in run.audit("pg.terminate")][:2] == [
        ("apply", "done"),
        ("plan", "planned"),
    ]


def test_only_old_idle_in_transaction_sessions_terminated(run: Runner, pg_dsn: str) -> None:
    old, young = psycopg.connect(pg_dsn), psycopg.connect(pg_dsn)
    old.execute("SELECT 1")  # BEGIN implied: now idle in transaction
    time.sleep(2.5)
    young.execute("SELECT 1")
    launcher = _scalar(pg_dsn, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'")

    result = run.apply("pg.terminate", idle_in_transaction=True, older_than_s=1.5)
    assert [a["pid"] for a in result.plan.affects] == [old.info.backend_pid]
    assert result.outcome.status == "done"
    alive = {
        r[0] for r in psycopg.connect(pg_dsn, autocommit=True).execute("SELECT pid FROM pg_stat_activity")
    }
    assert old.info.backend_pid not in alive
    assert young.info.backend_pid in alive and launcher in alive
    young.execute("SELECT 1")  # still usable
    young.close()
    old.close()


def test_system_backends_are_spared_even_by_pid(run: Runner, pg_dsn: str) -> None:
    launcher = _scalar(pg_dsn, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'")
    plan = run.plan("pg.terminate", pid=[launcher])
    assert (
        plan.refusal
        == f"pid {launcher}: spared, autovacuum launcher, not a client backend (only those are signalled)"
    )
    assert run.audit("pg.terminate")[0]["outcome"] == "refused"


def test_create_index_concurrently(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
        conn.execute(
            "INSERT INTO users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 20000) g"
        )
        conn.execute("ANALYZE users")
    plan = run.plan("pg.create_index", table="public.users", columns=["email"])
    assert plan.steps[-1] == 'CREATE INDEX CONCURRENTLY "users_email_idx" ON "public"."users" ("email")'
    assert plan.affects[0]["size_bytes"] > 0 and plan.affects[0]["rows_estimate"] == 20000
    assert _scalar(pg_dsn, "SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email_idx'") == 0

    result = run.apply("pg.create_index", table="public.users", columns=["email"])
    assert result.outcome.status == "done", result.outcome
    assert (
        _scalar(pg_dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass")
        is True
    )
    again = run.plan("pg.create_index", table="public.users", columns=["email"])
    assert again.nothing_to_do and "already indexes" in again.summary


def test_invalid_index_from_a_failed_build_is_reported_and_dropped(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
        conn.execute("INSERT INTO users (email) VALUES ('a@x'), ('a@x')")
        with pytest.raises(psycopg.errors.UniqueViolation):  # a failed build leaves an INVALID index
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email)")
    plan = run.plan("pg.create_index", table="users", columns=["email"])
    assert any("invalid index users_email_idx" in n for n in plan.notes)
    assert plan.steps[2] == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."users_email_idx"'
    result = run.apply("pg.create_index", table="users", columns=["email"])
    assert result.outcome.status == "done"
    assert (
        _scalar(pg_dsn, "SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 'users'::regclass")
        is True
    )


def test_failed_build_leaves_no_invalid_index(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
        conn.execute("INSERT INTO users (email) SELECT 'u' || g FROM generate_series(1, 100000) g")
    result = run.apply("pg.create_index", table="users", columns=["email"], statement_timeout_s=0.005)
    assert result.outcome.status == "failed" and "statement timeout" in result.outcome.error
    assert (
        _scalar(pg_dsn, "SELECT count(*) FROM pg_index WHERE indrelid = 'users'::regclass AND NOT indisvalid")
        == 0
    )
    assert run.audit("pg.create_index")[0]["outcome"] == "failed"


def test_vacuum_removes_dead_tuples(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bloat (id int, pad text) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO bloat SELECT g, repeat('x', 50) FROM generate_series(1, 5000) g")
        conn.execute("DELETE FROM bloat WHERE id > 1000")
    # the deleting backend has exited: its counts are flushed to the statistics
    _wait(
        lambda: _scalar(pg_dsn, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloat'") >= 4000
    )
    plan = run.plan("pg.vacuum")  # no --table: the tables over the dead-tuple limits
    assert plan.data["tables"] == ["public.bloat"] and plan.steps[-1] == 'VACUUM (ANALYZE) "public"."bloat"'
    assert plan.steps[:2] == ["SET lock_timeout = '2000ms'", "SET statement_timeout = '600000ms'"]
    result = run.apply("pg.vacuum", table=["public.bloat"])
    assert result.outcome.status == "done"
    assert result.outcome.figures["public.bloat dead_tuples"]["before"] >= 4000
    assert _scalar(pg_dsn, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloat'") == 0


def test_vacuum_full_only_when_asked(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
    assert "FULL" not in run.plan("pg.vacuum", table=["t"]).steps[-1]
    plan = run.plan("pg.vacuum", table=["t"], full=True)
    assert plan.steps[-1] == 'VACUUM (FULL, ANALYZE) "public"."t"' and "blocks every read" in plan.notes[0]


def test_stale_pid_is_replanned_not_signalled(run: Runner, pg_dsn: str) -> None:
    victim = psycopg.connect(pg_dsn)
    victim.execute("SELECT 1")
    pid = victim.info.backend_pid
    asked = []

    def confirm(plan) -> bool:
        asked.append(plan.summary)
        if len(asked) == 1:
            victim.close()  # the session goes away between the confirmation and the apply
            _wait(
                lambda: _scalar(pg_dsn, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)) == 0
            )
        return True

    result = run.apply("pg.terminate", pid=[pid], confirm=confirm)
    assert result.replanned and result.outcome.status == "nothing"
    assert run.audit("pg.terminate")[0]["outcome"] == "nothing"


def test_missing_table_is_a_clean_failure(run: Runner) -> None:
    from perfbook.errors import UsageError

    with pytest.raises(UsageError, match="no table 'public.nope'"):
        run.plan("pg.vacuum", table=["public.nope"])
    entry = run.audit("pg.vacuum")[0]
    assert entry["outcome"] == "failed" and "public.nope" in entry["error"]


def test_cancel_stops_the_statement_and_keeps_the_session(run: Runner, pg_dsn: str) -> None:
    slow = psycopg.connect(pg_dsn, autocommit=True)
    failure: list[Exception] = []

    def sleeper() -> None:
        try:
            slow.execute("SELECT pg_sleep(30)")
        except psycopg.Error as err:
            failure.append(err)

    worker = threading.Thread(target=sleeper, daemon=True)
    worker.start()
    _wait(
        lambda: (
            _scalar(
                pg_dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' "
                "AND state = 'active'",
            )
            == 1
        )
    )
    time.sleep(0.3)
    result = run.apply("pg.cancel", older_than_s=0.2)
    assert [a["pid"] for a in result.plan.affects] == [slow.info.backend_pid]
    worker.join(5)
    assert isinstance(failure[0], psycopg.errors.QueryCanceled)
    assert slow.execute("SELECT 1").fetchone() == (1,)  # the session itself goes on
    slow.close()


def test_analyze_and_every_apply_is_audited(run: Runner, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 2000) g")
    assert run.apply("pg.analyze", table=["fresh"]).outcome.status == "done"
    assert _scalar(pg_dsn, "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'fresh'")
    run.apply("pg.vacuum", table=["fresh"])
    run.apply("pg.vacuum", table=["fresh"], confirm=lambda plan: False)
    entries = [(e["action"], e["mode"], e["outcome"]) for e in run.audit()]
    assert entries == [
        ("pg.vacuum", "apply", "declined"),
        ("pg.vacuum", "plan", "planned"),
        ("pg.vacuum", "apply", "done"),
        ("pg.vacuum", "plan", "planned"),
        ("pg.analyze", "apply", "done"),
        ("pg.analyze", "plan", "planned"),
    ]
    assert all(e["os_user"] == "tester" and "127.0.0.1" in e["target"] for e in run.audit())
