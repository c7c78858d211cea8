"""``lab up --postgres-dsn --redis-url``: the lab on servers it did not start, and cleaned off them."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import redis

from perfbook.lab.state import LabState


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_lab_on_given_postgres_and_redis(perfbook, state_dir: Path, pg_dsn: str, redis_url: str) -> None:
    cache_url = redis_url.rsplit("/", 1)[0] + "/3"
    up = perfbook(
        "lab",
        "up",
        "--port",
        "0",
        "--frontend-port",
        "0",
        "--dir",
        str(state_dir),
        "--postgres-dsn",
        pg_dsn,
        "--redis-url",
        cache_url,
    )
    assert up.exit_code == 0, up.stderr
    state = LabState.load(state_dir)
    assert state.external_postgres and state.external_redis
    assert {"users", "agents"} <= _tables(pg_dsn)
    assert httpx.get(f"{state.backend_url}/api/v1/users/5").status_code == 200
    cache = redis.Redis.from_url(cache_url)
    assert cache.exists("user:5")
    assert "queue_db = 4" in (state_dir / "perfbook.toml").read_text()

    assert perfbook("lab", "down", "--dir", str(state_dir)).exit_code == 0
    assert not {"users", "agents"} & _tables(pg_dsn)
    assert not cache.exists("user:5")
    assert cache.ping()  # the server itself is not the lab's to stop


def test_unreachable_given_postgres_is_one_line(perfbook, state_dir: Path, closed_port_url: str) -> None:
    result = perfbook(
        "lab",
        "up",
        "--port",
        "0",
        "--frontend-port",
        "0",
        "--dir",
        str(state_dir),
        "--postgres-dsn",
        closed_port_url,
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --postgres-dsn postgresql://lab:***@127.0.0.1:")
    assert "s3cret" not in result.stderr and len(result.stderr.splitlines()) <= 2
