"""perfbook stress against private PostgreSQL and Redis servers, and a local HTTP server."""

from __future__ import annotations

import redis
from load_servers import LocalServer, ServerConfig


def test_stress_postgres_counts_queries(perfbook, pg_dsn):
    res = perfbook("stress", "postgres", "--dsn", pg_dsn, "-c", "4", "-n", "400", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["kind"] == "postgres" and doc["operations"] == 400 and doc["errors"] == {}
    assert doc["ops_per_s"] > 0 and 0 < doc["latency"]["p50_s"] <= doc["latency"]["p99_s"]


def test_stress_postgres_session_is_read_only(perfbook, pg_dsn):
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
    assert res.exit_code == 3
    assert res.json["operations"] == 0 and sum(res.json["errors"].values()) >= 1


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
