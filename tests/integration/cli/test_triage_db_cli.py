"""``perfbook triage --only postgres,redis --json`` against real private servers, as a user runs it."""

from __future__ import annotations

import contextlib
import threading
import time

import psycopg
import redis

from perfbook.report.json import validate_report
from perfbook.services import free_port


def oom_writer(url: str, seconds: float) -> threading.Thread:
    """An app that keeps writing to a full Redis during the window (bounded in time)."""

    def run() -> None:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.exceptions.OutOfMemoryError):
                client.set("cache:new", "v" * 100)
            time.sleep(0.01)
        client.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_missing_index_and_full_redis_are_named_with_evidence_and_fixes(perfbook, pg_dsn, redis_url):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text)")
        conn.execute(
            "INSERT INTO users (email) SELECT 'u' || g || '@example.org' FROM generate_series(1, 20000) g"
        )
        for i in range(12):
            conn.execute("SELECT id FROM users WHERE email = %s", (f"u{i}@example.org",))
        conn.execute("SELECT pg_stat_force_next_flush()")
    sync = redis.Redis.from_url(redis_url)
    sync.execute_command("DEBUG", "POPULATE", 20000, "cache", 100)
    sync.config_set("maxmemory", int(sync.info("memory")["used_memory"] * 0.9))
    writer = oom_writer(redis_url, 2.5)
    env = {"PERFBOOK_POSTGRES_DSN": pg_dsn, "PERFBOOK_REDIS_URL": redis_url}
    result = perfbook("triage", "--only", "postgres,redis", "--window", "1s", "--json", env=env)
    writer.join()
    report = result.json
    validate_report(report)
    assert report["probes"]["postgres"]["status"] == "ok" and report["probes"]["redis"]["status"] == "ok"
    found = {f["code"]: f for f in report["findings"]}
    index = found["pg.missing_index"]
    assert index["subject"] == "public.users" and index["evidence"]["columns"] == ["email"]
    assert (
        index["actions"][0]["command"] == "perfbook fix pg.create_index --table public.users --columns email"
    )
    oom = found["redis.oom_rejections"]
    assert oom["level"] == "critical" and oom["value"] > 0
    assert {"database", "cache"} <= set(report["issue_types"])
    assert report["severity"] is None  # nothing user-facing measured: the cut falls back to critical
    assert result.exit_code == 3


def test_unreachable_redis_is_named_while_postgres_still_reports(perfbook, pg_dsn):
    closed_port = free_port()  # free a moment ago: nothing listens there
    env = {"PERFBOOK_POSTGRES_DSN": pg_dsn, "PERFBOOK_REDIS_URL": f"redis://:pw@127.0.0.1:{closed_port}/0"}
    result = perfbook("triage", "--only", "postgres,redis", "--window", "500ms", "--json", env=env)
    report = result.json
    validate_report(report)
    assert report["probes"]["redis"]["status"] == "unavailable"
    assert report["probes"]["redis"]["reason"] == f"connection refused at 127.0.0.1:{closed_port}"
    assert report["probes"]["postgres"]["status"] == "ok"
    assert [f["code"] for f in report["findings"] if f["level"] == "critical"] == ["redis.unreachable"]
    assert ":pw@" not in result.stdout and result.exit_code == 3
