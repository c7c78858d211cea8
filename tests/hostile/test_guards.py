"""Destructive guards by meaning, not by spelling: match-all patterns, the queue db, stress queries (#12)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import redis

from hostile import perfbook


@pytest.fixture
def cfg(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "perfbook.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path}/audit.db"\n[http]\nbase_url = ""\n'
        f"[redis]\nurl = {json.dumps(redis_url)}\ncache_db = 0\nqueue_db = 1\n"
    )
    return path


@pytest.fixture
def dbs(redis_url: str):
    base = redis_url.rsplit("/", 1)[0]
    clients = {n: redis.Redis.from_url(f"{base}/{n}") for n in (0, 1, 2)}
    clients[0].mset({f"cache:users:{i}": i for i in range(20)} | {f"other:{i}": i for i in range(180)})
    clients[1].rpush("ws:queue", *range(10))
    clients[2].mset({f"k{i}": i for i in range(200)})
    yield clients
    for c in clients.values():
        c.flushdb()
        c.close()


def _kept(dbs, sizes: dict[int, int]):
    def check() -> str | None:
        now = {n: dbs[n].dbsize() for n in sizes}
        return None if now == sizes else f"keys deleted: {sizes} -> {now}"

    return check


@pytest.mark.parametrize("pattern", ["*", "**", "?*", "*?", "[a-z]*", "[^]*", "k*"])
def test_a_pattern_that_matches_every_key_deletes_nothing(attempt, cfg, dbs, pattern):
    run = perfbook(
        "fix",
        "redis.delete_pattern",
        "--pattern",
        pattern,
        "--db",
        "2",
        "--apply",
        "--yes",
        "--no-verify",
        "--config",
        str(cfg),
    )
    attempt.check(run, codes={1, 2}, error=True, protect=[_kept(dbs, {0: 200, 1: 1, 2: 200})])


def test_the_queue_db_is_never_a_delete_target(attempt, cfg, dbs):
    run = perfbook(
        "fix",
        "redis.delete_pattern",
        "--pattern",
        "ws:*",
        "--db",
        "1",
        "--apply",
        "--yes",
        "--no-verify",
        "--config",
        str(cfg),
    )
    attempt.check(run, codes={1, 2}, error=True, protect=[_kept(dbs, {1: 1})])


def test_a_delete_of_most_of_the_db_needs_allow_share(attempt, cfg, dbs):
    run = perfbook(
        "fix",
        "redis.delete_pattern",
        "--pattern",
        "other:*",
        "--apply",
        "--yes",
        "--no-verify",
        "--config",
        str(cfg),
    )  # 180 of 200 keys of the cache db
    attempt.check(run, codes={1, 2}, error=True, protect=[_kept(dbs, {0: 200})])


def test_a_narrow_delete_still_works(attempt, cfg, dbs):
    run = perfbook(
        "fix",
        "redis.delete_pattern",
        "--pattern",
        "cache:users:*",
        "--apply",
        "--yes",
        "--no-verify",
        "--config",
        str(cfg),
    )
    attempt.check(
        run,
        codes={0},
        protect=[_kept(dbs, {1: 1, 2: 200})],
        verify=[lambda: None if dbs[0].dbsize() == 180 else f"{dbs[0].dbsize()} keys left, expected 180"],
    )


@pytest.fixture
def victim(pg_dsn: str):
    conn = psycopg.connect(pg_dsn, autocommit=True)
    yield conn
    conn.close()


def _alive(conn):
    def check() -> str | None:
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            return "another session was terminated"
        return None

    return check


@pytest.mark.parametrize(
    "query",
    [
        "SELECT pg_terminate_backend({pid})",
        'SELECT "pg_catalog"."pg_terminate_backend"({pid})',
        "SELECT pg_cancel_backend({pid})",
        "select 1; select pg_terminate_backend({pid})",
        "SELECT pg_reload_conf()",
        "DELETE FROM pg_class",
        "WITH x AS (SELECT pg_terminate_backend({pid})) SELECT * FROM x",
    ],
)
def test_stress_postgres_query_acts_on_nothing(attempt, pg_dsn, victim, query):
    run = perfbook(
        "stress",
        "postgres",
        "--dsn",
        pg_dsn,
        "-c",
        "1",
        "-n",
        "3",
        "--query",
        query.format(pid=victim.info.backend_pid),
    )
    attempt.check(run, codes={2}, error=True, protect=[_alive(victim)])


def test_stress_postgres_plain_read_still_works(attempt, pg_dsn):
    run = perfbook(
        "stress",
        "postgres",
        "--dsn",
        pg_dsn,
        "-c",
        "2",
        "-n",
        "20",
        "--json",
        "--query",
        "SELECT count(*) FROM pg_class WHERE relname = 'x;y'",
    )
    attempt.check(run, codes={0}, verify=[lambda: None if run.json["operations"] == 20 else "not 20 queries"])
