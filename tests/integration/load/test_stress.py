"""perfbook stress against private PostgreSQL and Redis servers, and a local HTTP server."""

from __future__ import annotations

import psycopg
import redis
from load_servers import LocalServer, ServerConfig


def test_stress_postgres_counts_queries(perfbook, pg_dsn):
    res = perfbook("stress", "postgres", "--dsn", pg_dsn, "-c", "4", "-n", "400", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["kind"] == "postgres" and doc["operations"] == 400 and doc["errors"] == {}
    assert doc["ops_per_s"] > 0 and 0 < doc["latency"]["p50_s"] <= doc["latency"]["p99_s"]


def test_stress_postgres_refuses_anything_but_a_read(perfbook, pg_dsn):
    res = perfbook(
        "stress",
        "postgres",
        "--dsn",
        pg_dsn,
        "-c",
        "1",
        "-d",
        "0.3s",
        "--query",
        "CREATE TABLE perfbook_should_not_exist (i int)",
        "--json",
    )
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith(
        "error: stress postgres --query refused: only SELECT is allowed (it starts with CREATE)"
    )
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('perfbook_should_not_exist')").fetchone() == (None,)


def test_stress_postgres_never_terminates_another_session(perfbook, pg_dsn):
    """pg_terminate_backend works in a read-only transaction: the query is refused before it runs (#12)."""
    with psycopg.connect(pg_dsn, autocommit=True) as victim:
        pid = victim.info.backend_pid
        for query in (
            f"SELECT pg_terminate_backend({pid})",
            f'SELECT "pg_catalog"."pg_cancel_backend"({pid})',
            "SELECT pg_reload_conf()",
            f"SELECT 1; SELECT pg_terminate_backend({pid})",
        ):
            res = perfbook("stress", "postgres", "--dsn", pg_dsn, "-c", "1", "-n", "1", "--query", query)
            assert res.exit_code == 2, (query, res.stderr)
            assert "refused" in res.stderr and "Traceback" not in res.stderr
        assert victim.execute("SELECT 1").fetchone() == (1,)


def test_stress_postgres_refuses_a_volatile_function_that_writes(perfbook, pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE audit (at timestamptz)")
        conn.execute("CREATE FUNCTION touch() RETURNS int LANGUAGE sql AS 'SELECT 1'")  # volatile by default
    res = perfbook("stress", "postgres", "--dsn", pg_dsn, "-c", "1", "-n", "1", "--query", "SELECT touch()")
    assert res.exit_code == 2 and "touch(), a volatile function" in res.stderr
    ok = perfbook(
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
        "SELECT random(), now(), count(*) FROM audit",
    )
    assert ok.exit_code == 0, ok.stderr
    assert ok.json["operations"] == 20


def test_stress_postgres_unreachable_is_one_line(perfbook):
    res = perfbook("stress", "postgres", "--dsn", "postgresql://nobody:pw@127.0.0.1:1/x", "-d", "0.2s")
    assert res.exit_code == 1
    assert res.stderr.startswith("error: stress postgres: cannot connect") and "pw@" not in res.stderr


def test_stress_redis_leaves_no_keys(perfbook, redis_url):
    res = perfbook(
        "stress", "redis", "--url", redis_url, "-c", "3", "--pipeline", "50", "-d", "0.5s", "--json"
    )
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["operations"] > 0 and doc["operations"] % 100 == 0
    assert doc["keys_left"] == 0
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_stress_connections_all_at_once(perfbook):
    with LocalServer(ServerConfig(delay_s=0.05)) as srv:
        res = perfbook("stress", "connections", srv.url + "/health", "-c", "100", "--json")
        assert srv.count == 100
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["succeeded"] == 100 and doc["status_codes"] == {"200": 100}
    assert doc["latency"]["p50_s"] >= 0.05
