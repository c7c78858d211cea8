"""Shared fixtures: private PostgreSQL / Redis servers (from perfbook.services) and the CLI helper.

Locally a server that cannot start skips its tests with the reason; in CI (CI=true or
PERFBOOK_REQUIRE_SERVICES=1) it fails them, so a missing install step can never pass unnoticed.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
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

    Through ``perfbook.cli.main`` itself, so exit codes are the ones a shell sees, with its own
    :class:`perfbook.cli.env.Env` (in-memory stdin / stdout / stderr: no terminal, so prompts are
    refused and no progress is drawn) instead of patched ``sys`` streams. ``env`` sets process
    environment variables for the run (a value of None unsets one), as a shell would.
    """
    from perfbook.cli import main
    from perfbook.cli.env import Env

    def run(*args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> CliResult:
        cli_env = Env(stdin=io.StringIO(input or ""), stdout=io.StringIO(), stderr=io.StringIO())
        with _environ(env or {}):
            try:
                main(list(args), env=cli_env)
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return CliResult(code, cli_env.stdout.getvalue(), cli_env.stderr.getvalue())

    return run


@contextlib.contextmanager
def _environ(changes: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for one command, then restore them."""
    saved = {key: os.environ.get(key) for key in changes}
    try:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def pgbouncer(pg_server: services.PostgresServer) -> Iterator[Any]:
    """``pgbouncer(pool_mode="transaction", default_pool_size="2")``: a private PgBouncer as Debian
    ships it, in front of the session's PostgreSQL, on a free port; stopped after the test."""
    started: list[services.PgbouncerServer] = []

    def start(pool_mode: str = "session", **settings: str) -> services.PgbouncerServer:
        try:
            server = services.start_pgbouncer(pg_server, pool_mode=pool_mode, settings=settings)
        except services.ServiceUnavailable as err:
            _unavailable(err)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
