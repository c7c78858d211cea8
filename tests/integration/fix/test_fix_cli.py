"""perfbook fix from the command line: dry run by default, --apply --yes, refusals, history, failures."""

from __future__ import annotations

import time

import psycopg
import pytest
import redis
from fixkit import write_config

from perfbook.fix.context import url_with_db


@pytest.fixture
def pg_cfg(tmp_path, pg_dsn: str):
    return write_config(tmp_path, postgres={"dsn": pg_dsn})


def test_dry_run_is_the_default_and_changes_nothing(perfbook, pg_cfg, pg_dsn: str) -> None:
    idle = psycopg.connect(pg_dsn)
    idle.execute("SELECT 1")
    res = perfbook("fix", "pg.terminate", "--pid", str(idle.info.backend_pid), "--config", str(pg_cfg))
    assert res.exit_code == 0, res.stderr
    assert "steps (exactly these):" in res.stdout and "dry run: nothing changed" in res.stdout
    assert f"pg_terminate_backend({idle.info.backend_pid}" in res.stdout
    idle.execute("SELECT 1")  # still alive: the dry run touched nothing
    idle.close()
    hist = perfbook("fix", "history", "--json", "--config", str(pg_cfg)).json["entries"]
    assert [(e["action"], e["mode"], e["outcome"]) for e in hist] == [("pg.terminate", "plan", "planned")]
    assert hist[0]["os_user"] and "127.0.0.1" in hist[0]["target"]


def test_apply_without_a_terminal_needs_yes(perfbook, tmp_path) -> None:
    res = perfbook("fix", "pg.vacuum", "--apply", "--config", str(write_config(tmp_path)))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: --apply needs a confirmation and there is no terminal: add --yes to apply in scripts"
    ]


def test_json_plan_is_one_document(perfbook, pg_cfg, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int, email text)")
    res = perfbook(
        "fix",
        "pg.create_index",
        "--table",
        "public.users",
        "--columns",
        "email",
        "--json",
        "--config",
        str(pg_cfg),
    )
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["dry_run"] is True and doc["plan"]["steps"][-1].startswith("CREATE INDEX CONCURRENTLY")


def test_flush_cache_apply_and_refusal(perfbook, tmp_path, redis_url: str) -> None:
    cache, queue = (
        redis.Redis.from_url(url_with_db(redis_url, 0)),
        redis.Redis.from_url(url_with_db(redis_url, 1)),
    )
    cache.set("cache:a", 1)
    queue.rpush("ws:queue", "m")
    ok = write_config(tmp_path, redis={"url": redis_url})
    res = perfbook("fix", "redis.flush_cache", "--apply", "--yes", "--no-verify", "--config", str(ok))
    assert res.exit_code == 0, res.stderr
    assert "done: db 0 flushed" in res.stdout and cache.dbsize() == 0 and queue.llen("ws:queue") == 1

    bad = write_config(tmp_path, redis={"url": redis_url, "cache_db": 1, "queue_db": 1})
    res = perfbook("fix", "redis.flush_cache", "--apply", "--yes", "--config", str(bad))
    assert res.exit_code == 1 and queue.llen("ws:queue") == 1
    assert res.stderr.startswith(
        "error: redis.flush_cache refused: redis.cache_db = 1 is also redis.queue_db"
    )
    outcomes = [
        (e["mode"], e["outcome"])
        for e in perfbook("fix", "history", "--json", "--config", str(bad)).json["entries"]
    ]
    assert outcomes == [("plan", "refused"), ("apply", "done"), ("plan", "planned")]
    cache.close()
    queue.close()


def test_unreachable_database_is_one_line_and_audited(perfbook, tmp_path) -> None:
    from perfbook.services import free_port

    cfg = write_config(tmp_path, postgres={"dsn": f"postgresql://app:s3cret@127.0.0.1:{free_port()}/app"})
    res = perfbook("fix", "pg.vacuum", "--config", str(cfg))
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: postgres: cannot connect to postgresql://app:***@127.0.0.1")
    assert "Traceback" not in res.stderr and "s3cret" not in res.stderr
    entry = perfbook("fix", "history", "--json", "--config", str(cfg)).json["entries"][0]
    assert entry["outcome"] == "failed" and "s3cret" not in entry["error"] and "s3cret" not in entry["target"]


def test_unknown_action_and_parameter(perfbook, tmp_path) -> None:
    pg_cfg = write_config(tmp_path)
    res = perfbook("fix", "pg.vacum", "--config", str(pg_cfg))
    assert res.exit_code == 2 and "no fix 'pg.vacum'" in res.stderr and "perfbook fix --list" in res.stderr
    res = perfbook("fix", "pg.vacuum", "--tabel", "x", "--config", str(pg_cfg))
    assert res.exit_code == 2 and "unknown parameter --tabel" in res.stderr


def test_process_restart_runs_only_the_configured_command(perfbook, tmp_path) -> None:
    marker = tmp_path / "restarted"
    cfg = write_config(tmp_path, fix={"restart_commands": {"backend": f"touch {marker}", "broken": "false"}})
    res = perfbook(
        "fix", "process.restart", "--name", "backend", "--apply", "--yes", "--no-verify", "--config", str(cfg)
    )
    assert res.exit_code == 0, res.stderr
    assert marker.exists()
    res = perfbook(
        "fix", "process.restart", "--name", "broken", "--apply", "--yes", "--no-verify", "--config", str(cfg)
    )
    assert res.exit_code == 1 and res.stderr.strip() == "error: process.restart failed: exit 1: no output"
    res = perfbook("fix", "process.restart", "--name", "api", "--config", str(cfg))
    assert res.exit_code == 2 and "no restart command for 'api' (known: backend, broken)" in res.stderr


def test_apply_verifies_with_the_named_probes(perfbook, pg_cfg, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bloat (id int, pad text) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO bloat SELECT g, repeat('x', 50) FROM generate_series(1, 5000) g")
        conn.execute("DELETE FROM bloat WHERE id > 1000")
    _wait_dead_tuples(pg_dsn, "bloat", 4000)
    res = perfbook(
        "fix",
        "pg.vacuum",
        "--table",
        "public.bloat",
        "--apply",
        "--yes",
        "--window",
        "0.3",
        "--config",
        str(pg_cfg),
    )
    assert res.exit_code == 0, res.stderr
    assert "verify (postgres, 0.3 s window):" in res.stdout
    assert (
        "pg.dead_tuples:public.bloat: 0.8 -> absent (limit 0.2)" in res.stdout
        and "finding gone: yes" in res.stdout
    )
    entry = perfbook("fix", "history", "--json", "--config", str(pg_cfg)).json["entries"][0]
    assert entry["mode"] == "apply" and entry["outcome"] == "done"
    assert (
        entry["before"]["pg.dead_tuples:public.bloat"] == 0.8
        and entry["after"]["public.bloat dead_tuples"] == 0
    )


def _wait_dead_tuples(dsn: str, table: str, at_least: int, timeout_s: float = 5.0) -> None:
    """PostgreSQL publishes a closed backend's table counts a moment later: wait for them."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s", (table,)
            ).fetchone()
            if row and row[0] >= at_least:
                return
            time.sleep(0.05)
    raise AssertionError(f"{table}: dead tuples not visible after {timeout_s} s")


def test_halfway_failure_says_what_was_and_was_not_done(perfbook, pg_cfg, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE a (id int); CREATE TABLE b (id int)")
    locker = psycopg.connect(pg_dsn)
    locker.execute("LOCK TABLE b IN ACCESS EXCLUSIVE MODE")  # held: VACUUM b must give up, not queue
    try:
        res = perfbook(
            "fix",
            "pg.vacuum",
            "--table",
            "public.a,public.b",
            "--lock-timeout-ms",
            "200",
            "--apply",
            "--yes",
            "--no-verify",
            "--config",
            str(pg_cfg),
        )
    finally:
        locker.close()
    assert res.exit_code == 1
    assert 'done: VACUUM (ANALYZE) "public"."a"' in res.stdout
    assert 'not done: VACUUM (ANALYZE) "public"."b": canceling statement due to lock timeout' in res.stdout
    assert res.stderr.strip().splitlines() == [
        'error: pg.vacuum partial: VACUUM (ANALYZE) "public"."b": canceling statement due to lock timeout'
    ]
    entry = perfbook("fix", "history", "pg.vacuum", "--json", "--config", str(pg_cfg)).json["entries"][0]
    assert entry["outcome"] == "partial" and "lock timeout" in entry["error"]
    assert (
        perfbook("fix", "history", "pg.cancel", "--config", str(pg_cfg)).stdout.strip()
        == "no fixes recorded yet"
    )
    assert perfbook("fix", "history", "nope", "--config", str(pg_cfg)).exit_code == 2
