"""Shared fixtures: private PostgreSQL / Redis servers (from perfbook.services) and the CLI helper.

Locally a server that cannot start skips its tests with the reason; in CI (CI=true or
PERFBOOK_REQUIRE_SERVICES=1) it fails them, so a missing install step can never pass unnoticed.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from perfbook import services

_db_counter = itertools.count()


def _unavailable(err: Exception) -> None:
    if services.require_services():
        pytest.fail(f"required service could not start: {err}")
    pytest.skip(f"service not available here: {err}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[services.PostgresServer]:
    """One private PostgreSQL 13+ for the session, pg_stat_statements preloaded."""
    try:
        server = services.start_postgres()
    except services.ServiceUnavailable as err:
        _unavailable(err)
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_server: services.PostgresServer) -> Iterator[str]:
    """A fresh database per test (pg_stat_statements created in it); dropped afterwards."""
    import psycopg

    name = f"t{next(_db_counter)}_{id(pg_server) % 10000}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(pg_server.dsn(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    yield pg_server.dsn(name)
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.RedisServer]:
    """One private redis-server for the session (DEBUG commands allowed from localhost)."""
    try:
        server = services.start_redis(extra_args=["--enable-debug-command", "local"])
    except services.ServiceUnavailable as err:
        _unavailable(err)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: services.RedisServer) -> Iterator[str]:
    """The private Redis, flushed and with its default config restored after the test."""
    import redis

    client = redis.Redis.from_url(redis_server.url())
    yield redis_server.url(0)
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.flushall()
    client.config_resetstat()
    client.close()


@dataclass
class CliResult:
    """What a user sees of one command: exit code, stdout, stderr, and stdout parsed as JSON."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def perfbook():
    """Run ``perfbook *args`` in-process like a user would (stdout and stderr kept apart).

    Through ``perfbook.cli.main`` itself, so exit codes are the ones a shell sees. Typer's own
    runner isolates the streams: Typer vendors Click, and a core install has no ``click``.
    """
    from typer.testing import CliRunner

    from perfbook.cli import main

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        with CliRunner().isolation(input=input, env=env) as (stdout, stderr, _):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            sys.stdout.flush()  # the isolated streams are text wrappers over these buffers
            sys.stderr.flush()
            return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())

    return run
