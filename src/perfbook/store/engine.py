"""The store's engine: where it lives, how SQLite is opened for several processes, retries, errors.

SQLite (the default, under the state directory) runs in WAL mode with a busy timeout, so readers
never block the writer and two perfbook processes can write at once: write transactions start
with ``BEGIN IMMEDIATE`` (they take the write lock up front instead of failing half-way when
another writer got there first), and a transaction that still meets "database is locked" is
retried with backoff. The database file is created 0600 in a 0700 directory. PostgreSQL is for
a team (``[store] url = "postgresql+psycopg://…"``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, create_engine, event, select
from sqlalchemy.engine import Connection, CursorResult, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from perfbook.errors import ConfigError, StoreError
from perfbook.redact import redact_text, redact_url

T = TypeVar("T")
LOCK_RETRIES = 8  # on top of the busy timeout: a few more tries before "locked" is an error


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/perfbook``, else ``~/.local/state/perfbook``."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "perfbook"


def default_url(env: Mapping[str, str] | None = None) -> str:
    """SQLite at ``state_dir()/perfbook.db``."""
    return f"sqlite:///{state_dir(env) / 'perfbook.db'}"


def inserted_key(result: CursorResult[Any]) -> Any:
    """The primary key of the row an INSERT just wrote (SQLAlchemy types it Optional for other statements)."""
    key = result.inserted_primary_key
    assert key is not None, "not an INSERT"
    return key[0]


class Store:
    """An engine over perfbook's tables, migrated to the current schema on first use.

    store = Store("sqlite:////tmp/perfbook.db")
    store.write(lambda conn: conn.execute(incidents.insert().values(...)))
    rows = store.rows(fix_audit, limit=5)
    """

    def __init__(
        self, url: str, *, busy_timeout_s: float = 10.0, upgrade: bool = True, private_dir: bool = False
    ) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigError(
                f"store: not a database URL: {redact_url(url)}",
                hint="[store] url takes a SQLAlchemy URL, e.g. sqlite:////var/lib/perfbook/perfbook.db",
            ) from None
        if parsed.drivername in ("postgresql", "postgres"):  # psycopg 3 is perfbook's driver, not psycopg2
            parsed = parsed.set(drivername="postgresql+psycopg")
            self.url = parsed.render_as_string(hide_password=False)
        self.dialect = parsed.get_backend_name()
        created = None
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            created = _prepare_sqlite_file(Path(parsed.database), private_dir)
        try:
            self.engine: Engine = self._create_engine(busy_timeout_s)
            if upgrade:
                from perfbook.store.migrate import ensure_current

                ensure_current(self)
        except BaseException:
            if created is not None:  # nothing half-made is left behind
                created.unlink(missing_ok=True)
            raise

    def _create_engine(self, busy_timeout_s: float) -> Engine:
        args: dict[str, Any] = {"timeout": busy_timeout_s} if self.dialect == "sqlite" else {}
        try:
            engine = create_engine(self.url, connect_args=args)
        except (SQLAlchemyError, ImportError, ValueError) as err:
            raise StoreError(
                f"store: cannot use {redact_url(self.url)}: {error_line(err)}",
                hint="check [store] url (PERFBOOK_STORE_URL)",
            ) from None
        if self.dialect == "sqlite":
            _sqlite_for_many_processes(engine, busy_timeout_s)
        return engine

    def read(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in a read transaction (retried while the database is locked)."""

        def run() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return self._guard(run)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` in one write transaction, committed at the end (``BEGIN IMMEDIATE`` on SQLite)."""

        def run() -> T:
            with self.engine.connect() as conn:
                conn.execution_options(perfbook_write=True)
                with conn.begin():
                    return fn(conn)

        return self._guard(run)

    def insert(self, table: Table, row: dict[str, Any]) -> int:
        """Append ``row`` to ``table``; the new primary key."""
        return self.write(lambda conn: inserted_key(conn.execute(table.insert().values(**row))))

    def rows(
        self, table: Table, *, limit: int = 50, newest_first: bool = True, **where: Any
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` matching ``where`` (column = value), newest first by primary key."""
        pk = list(table.primary_key.columns)[0]
        query = select(table).order_by(pk.desc() if newest_first else pk).limit(limit)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return self.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    @property
    def url_redacted(self) -> str:
        return redact_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def _guard(self, fn: Callable[[], T]) -> T:
        delay_s = 0.05
        for attempt in range(LOCK_RETRIES):
            try:
                return fn()
            except OperationalError as err:
                if not is_locked(err) or attempt == LOCK_RETRIES - 1:
                    raise StoreError(
                        f"store: {redact_url(self.url)}: {error_line(err)}",
                        hint="check [store] url (PERFBOOK_STORE_URL)",
                    ) from None
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 1.0)
            except SQLAlchemyError as err:
                raise StoreError(
                    f"store: {redact_url(self.url)}: {error_line(err)}",
                    hint="check [store] url (PERFBOOK_STORE_URL)",
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover


def is_locked(err: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy" (another writer holds the lock)."""
    text = str(getattr(err, "orig", err)).lower()
    return "database is locked" in text or "database is busy" in text


def _sqlite_for_many_processes(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN would be DEFERRED: we issue ours
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock now (waiting up to the busy timeout): a deferred
        # transaction that reads and then writes fails at once when another writer committed.
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("perfbook_write") else "BEGIN"
        )


def _prepare_sqlite_file(path: Path, private_dir: bool) -> Path | None:
    """Create the directory (0700) and the file (0600) when missing; the file if this call made it."""
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        elif private_dir:
            path.parent.chmod(0o700)  # perfbook's own state dir, maybe made 0755 by 0.1.0
        if path.is_dir():
            raise ConfigError(f"store: {path} is a directory", hint="[store] url names the database file")
        if path.exists():
            if private_dir:
                path.chmod(0o600)
            return None
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return path
    except FileExistsError:
        return None  # another process created it a moment ago
    except OSError as err:
        raise ConfigError(
            f"store: cannot create {path}: {err.strerror or err}",
            hint="check [store] url (PERFBOOK_STORE_URL)",
        ) from None


def error_line(err: BaseException) -> str:
    """The first line of a database error, redacted."""
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return redact_text(text[0] if text else type(err).__name__)
