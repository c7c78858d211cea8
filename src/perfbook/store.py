"""perfbook's store: SQLAlchemy 2, SQLite under the state directory by default, PostgreSQL for a team.

One :data:`metadata` holds every table; other modules (incidents …) add theirs to it and call
:meth:`Store.ensure_tables`. The fix audit log is append-only: a trigger refuses UPDATE and DELETE
on SQLite and PostgreSQL, so history cannot be rewritten by perfbook or by accident.

    store = open_store(cfg)                       # cfg.store.url, else ~/.local/state/perfbook/perfbook.db
    record_audit(store, action="pg.vacuum", mode="plan", outcome="planned", ...)
    rows = audit_history(store, limit=20)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import DDL, JSON, Column, Integer, MetaData, String, Table, Text, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from perfbook.config import Config
from perfbook.errors import PerfbookError
from perfbook.redact import redact_text, redact_url

metadata = MetaData()

fix_audit = Table(
    "fix_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),  # ISO 8601 UTC
    Column("os_user", String(128), nullable=False),
    Column("target", Text, nullable=False),  # redacted
    Column("action", String(64), nullable=False),
    Column("mode", String(16), nullable=False),  # plan | apply
    Column("params", JSON, nullable=False),
    Column("plan", JSON),
    # planned | nothing | refused | skipped (plans); done | partial | failed | declined | refused (applies)
    Column("outcome", String(16), nullable=False),
    Column("summary", Text),
    Column("error", Text),
    Column("before", JSON),  # figures before the apply, name -> value
    Column("after", JSON),
)

_PG_APPEND_ONLY_FN = """
CREATE OR REPLACE FUNCTION perfbook_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"""


def append_only(table: Table) -> None:
    """Make ``table`` refuse UPDATE and DELETE (SQLite and PostgreSQL triggers, created with it)."""
    name = table.name
    for verb in ("UPDATE", "DELETE"):
        event.listen(table, "after_create", DDL(
            f"CREATE TRIGGER {name}_no_{verb.lower()} BEFORE {verb} ON {name} "
            f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END").execute_if(dialect="sqlite"))
    event.listen(table, "after_create", DDL(_PG_APPEND_ONLY_FN).execute_if(dialect="postgresql"))
    event.listen(table, "after_create", DDL(
        f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
        "FOR EACH ROW EXECUTE FUNCTION perfbook_append_only()").execute_if(dialect="postgresql"))


append_only(fix_audit)


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/perfbook``, else ``~/.local/state/perfbook``."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "perfbook"


def store_url(cfg: Config, env: Mapping[str, str] | None = None) -> str:
    """``[store] url``, else SQLite at ``state_dir()/perfbook.db``."""
    return cfg.store.url or f"sqlite:///{state_dir(env) / 'perfbook.db'}"


class Store:
    """An engine over perfbook's tables. Rows go in with :meth:`insert` and come out with :meth:`rows`."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        args = {"timeout": 10} if url.startswith("sqlite") else {}
        try:
            self.engine: Engine = create_engine(url, connect_args=args)
        except (SQLAlchemyError, ImportError, ValueError) as err:
            raise PerfbookError(f"store: cannot use {redact_url(url)}: {_line(err)}",
                                hint="check [store] url") from None
        self.ensure_tables()

    def ensure_tables(self) -> None:
        """Create the tables registered on :data:`metadata` that do not exist yet."""
        self._guard(lambda: metadata.create_all(self.engine))

    def insert(self, table: Table, row: dict[str, Any]) -> int:
        """Append ``row`` to ``table``; the new primary key."""
        def run() -> int:
            with self.engine.begin() as conn:
                return conn.execute(table.insert().values(**row)).inserted_primary_key[0]
        return self._guard(run)

    def rows(self, table: Table, *, limit: int = 50, newest_first: bool = True, **where: Any) -> list[dict[str, Any]]:
        """Rows of ``table`` matching ``where`` (column = value), newest first by primary key."""
        pk = list(table.primary_key.columns)[0]
        query = select(table).order_by(pk.desc() if newest_first else pk).limit(limit)
        for column, value in where.items():
            query = query.where(table.c[column] == value)

        def run() -> list[dict[str, Any]]:
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(query)]
        return self._guard(run)

    def close(self) -> None:
        self.engine.dispose()

    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except SQLAlchemyError as err:
            raise PerfbookError(f"store: {redact_url(self.url)}: {_line(err)}", hint="check [store] url") from None


def open_store(cfg: Config, env: Mapping[str, str] | None = None) -> Store:
    """The store ``cfg`` names (``[store] url`` / PERFBOOK_STORE_URL, else SQLite in the state dir)."""
    return Store(store_url(cfg, env))


def now_iso() -> str:
    """Now in UTC, ISO 8601 with seconds and a Z."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_audit(store: Store, **fields: Any) -> int:
    """Append one audit entry; ``at`` defaults to now, ``target`` and ``error`` are redacted here."""
    row = {"at": now_iso(), "params": {}, **fields}
    row["target"] = redact_url(str(row.get("target") or ""))
    if row.get("error"):
        row["error"] = redact_text(str(row["error"]))
    return store.insert(fix_audit, row)


def audit_history(store: Store, *, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries (of ``action`` when given), newest first."""
    where = {"action": action} if action else {}
    return store.rows(fix_audit, limit=limit, **where)


def _line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return redact_text(text[0] if text else type(err).__name__)
