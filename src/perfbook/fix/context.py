"""What a fix gets: the config and lazily opened connections to its target (closed by the runner).

Plans read through :meth:`FixContext.pg_read` (autocommit, ``default_transaction_read_only``,
short timeouts, like the probes); only ``apply`` uses :meth:`FixContext.pg_write`. Connection
failures become one-line :class:`~perfbook.errors.PerfbookError` with the target redacted.
"""

from __future__ import annotations

import getpass
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from perfbook.config import Config
from perfbook.errors import ConfigError, PerfbookError
from perfbook.evidence.postgres import pooler_refusal
from perfbook.redact import redact_text, redact_url

APP_NAME = "perfbook fix"


class FixContext:
    """Config + connections for one fix run. Use as a context manager so connections close.

    >>> with FixContext(Config()) as ctx:
    ...     ctx.target_for("process")
    'this machine'
    """

    def __init__(self, cfg: Config, *, os_user: str | None = None) -> None:
        self.cfg = cfg
        self.os_user = os_user or _os_user()
        self.reason: str | None = None  # --reason / --ticket: stored with each apply's audit entry
        self.ticket: str | None = None
        self.incident: int | None = None  # --incident with --apply
        self._pg: dict[bool, Any] = {}
        self._redis: dict[int, Any] = {}
        self._docker: Any = None
        self._pgbouncer: Any = None

    def __enter__(self) -> FixContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection opened so far."""
        for conn in [*self._pg.values(), *self._redis.values(), *filter(None, [self._pgbouncer])]:
            try:
                conn.close()
            except Exception:  # closing a broken connection must not hide the real error
                pass
        if self._docker is not None:
            self._docker.close()
        self._pg, self._redis, self._docker, self._pgbouncer = {}, {}, None, None

    def target_for(self, layer: str) -> str:
        """The redacted address a fix of ``layer`` acts on (for plans and the audit log)."""
        if layer == "postgres":
            return redact_url(self.cfg.postgres.dsn)
        if layer == "redis":
            return redact_url(self.cfg.redis.url)
        if layer == "pgbouncer":
            return redact_url(self.cfg.pgbouncer.dsn)
        if layer == "containers":
            return redact_url(self.cfg.containers.engine_url())
        return "this machine"

    # PostgreSQL ------------------------------------------------------------------------------
    def pg_read(self) -> Any:
        """A read-only autocommit session for plans (statement / lock timeouts from config)."""
        return self._pg_conn(read_only=True)

    def pg_write(self) -> Any:
        """A writable autocommit session for apply; each fix sets its own timeouts per statement."""
        return self._pg_conn(read_only=False)

    def _pg_conn(self, read_only: bool) -> Any:
        if read_only in self._pg:
            return self._pg[read_only]
        dsn = self.cfg.postgres.dsn
        if not dsn:
            raise ConfigError("postgres.dsn is not set", hint="set PERFBOOK_POSTGRES_DSN or [postgres] dsn")
        import psycopg

        pg = self.cfg.postgres
        options = (
            f"-c statement_timeout={pg.statement_timeout_ms} -c lock_timeout={pg.lock_timeout_ms}"
            f" -c default_transaction_read_only={'on' if read_only else 'off'}"
        )
        try:
            conn = psycopg.connect(
                dsn, autocommit=True, application_name=APP_NAME, options=options, connect_timeout=5
            )
        except psycopg.Error as err:
            # session SETs instead would leak into pooled connections
            if pooler_refusal(str(err)) is not None:
                raise PerfbookError(
                    f"postgres: PgBouncer at {redact_url(dsn)} refused the fix's session: "
                    f"{_first_line(err).split('FATAL:')[-1].strip()}",
                    hint="pg.* fixes need their own session settings: point [postgres] dsn "
                    "(or PERFBOOK_POSTGRES_DSN) at PostgreSQL itself for them",
                ) from None
            raise PerfbookError(
                f"postgres: cannot connect to {redact_url(dsn)}: {_first_line(err)}",
                hint="check [postgres] dsn / PERFBOOK_POSTGRES_DSN",
            ) from None
        self._pg[read_only] = conn
        return conn

    # PgBouncer ---------------------------------------------------------------------------------
    def pgbouncer(self) -> Any:
        """An autocommit session on PgBouncer's admin console (``[pgbouncer] dsn``; SHOW and SET only)."""
        if self._pgbouncer is not None:
            return self._pgbouncer
        dsn = self.cfg.pgbouncer.dsn
        if not dsn:
            raise ConfigError(
                "pgbouncer.dsn is not set", hint="set PERFBOOK_PGBOUNCER_DSN or [pgbouncer] dsn"
            )
        import psycopg

        try:
            conn = psycopg.connect(
                dsn,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(1, int(self.cfg.pgbouncer.timeout_s)),
            )
        except psycopg.Error as err:
            raise PerfbookError(
                f"pgbouncer: cannot connect to {redact_url(dsn)}: {_first_line(err)}",
                hint="check [pgbouncer] dsn / PERFBOOK_PGBOUNCER_DSN (a user in admin_users)",
            ) from None
        self._pgbouncer = conn
        return conn

    # Redis -------------------------------------------------------------------------------------
    def redis(self, db: int | None = None) -> Any:
        """A redis-py client on ``db`` (default: the URL's own db); connection checked with PING."""
        url = self.cfg.redis.url
        if not url:
            raise ConfigError("redis.url is not set", hint="set PERFBOOK_REDIS_URL or [redis] url")
        import redis

        key = -1 if db is None else db
        if key in self._redis:
            return self._redis[key]
        client = redis.Redis.from_url(
            url if db is None else url_with_db(url, db), socket_timeout=5, socket_connect_timeout=5
        )
        try:
            client.ping()
        except redis.RedisError as err:
            client.close()
            raise PerfbookError(
                f"redis: cannot connect to {redact_url(url)}: {_first_line(err)}",
                hint="check [redis] url / PERFBOOK_REDIS_URL",
            ) from None
        self._redis[key] = client
        return client

    # Containers --------------------------------------------------------------------------------
    def docker(self) -> Any:
        """A docker SDK client on the configured engine (needs the ``docker`` extra)."""
        if self._docker is not None:
            return self._docker
        try:
            import docker
        except ImportError:
            raise PerfbookError(
                "container fixes need the docker SDK", hint="pip install 'perfbook[docker]'"
            ) from None
        url = self.cfg.containers.engine_url()
        try:
            client = docker.DockerClient(base_url=url, timeout=30)
            client.ping()
        except Exception as err:  # the SDK raises several unrelated types for an absent engine
            raise PerfbookError(
                f"containers: no engine at {redact_url(url)}: {_first_line(err)}",
                hint="set [containers] engine or DOCKER_HOST",
            ) from None
        self._docker = client
        return client


def url_with_db(url: str, db: int) -> str:
    """``url`` pointed at database ``db`` (redis-py lets the URL's own /N win over a ``db=`` argument).

    >>> url_with_db("redis://:pw@cache:6379/0?socket_timeout=1&db=0", 3)
    'redis://:pw@cache:6379/3?socket_timeout=1'
    """
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "db"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", query, parts.fragment))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return redact_text(text[0] if text else type(err).__name__)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (some containers): fall back to the uid
        return f"uid {os.getuid()}"
