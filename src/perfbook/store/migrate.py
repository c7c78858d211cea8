"""Alembic migrations of the store: run on first use, and by ``perfbook store upgrade``.

The migration scripts ship in the package (``perfbook/store/migrations/versions``). Opening a
store reads ``alembic_version`` (one cheap query); only when it is behind :data:`HEAD` is Alembic
imported and run, inside one transaction that also serializes concurrent upgrades (SQLite's write
lock, a PostgreSQL advisory lock), so two processes opening a new store at once both succeed.
A store from perfbook 0.1.0 (only ``fix_audit``, no version table) upgrades in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from perfbook.errors import StoreError

T = TypeVar("T")

HEAD = "0006"
REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
)  # oldest first; a test checks these against the scripts
MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x70657266  # "perf": one advisory lock for perfbook's migrations


class Store(Protocol):
    """What a migration needs of the store (:class:`perfbook.store.engine.Store`, which runs
    :func:`ensure_current` when it opens: this module depends on nothing of it)."""

    dialect: str

    @property
    def url_redacted(self) -> str: ...

    def read(self, fn: Callable[[Connection], T]) -> T: ...

    def write(self, fn: Callable[[Connection], T]) -> T: ...


@dataclass(frozen=True)
class Upgrade:
    """What an upgrade did: the revision before (None: a new or 0.1.0 store) and after."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def current_revision(conn: Connection) -> str | None:
    """The store's Alembic revision; None when it has none yet."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_current(store: Store) -> None:
    """Upgrade ``store`` when it is behind; refuse one written by a newer perfbook."""
    revision = store.read(current_revision)
    if revision == HEAD:
        return
    _check_known(store, revision)
    upgrade(store)


def upgrade(store: Store) -> Upgrade:
    """Run every migration the store lacks, in one serialized transaction."""

    def run(conn: Connection) -> Upgrade:
        if store.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        before = current_revision(conn)
        _check_known(store, before)
        if before != HEAD:
            _alembic_upgrade(conn)
        return Upgrade(before, current_revision(conn))

    return store.write(run)


def _alembic_upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _check_known(store: Store, revision: str | None) -> None:
    if revision is not None and revision not in REVISIONS:
        raise StoreError(
            f"store: {store.url_redacted} is at schema revision {revision}, newer than this perfbook "
            f"knows (up to {HEAD})",
            hint="upgrade perfbook, or point [store] url at another store",
        )
