"""The team store: the same migrations and guards on a private real PostgreSQL (issue #12 item 9)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, text, update
from store_kit import pg_store_url

from perfbook.store import Store, StoreError, audit_history, fix_audit, metadata, record_audit
from perfbook.store.migrate import HEAD


def test_postgres_store_migrates_and_keeps_the_audit_append_only(pg_dsn: str) -> None:
    store = Store(pg_dsn)  # a plain postgresql:// URL is run on psycopg 3
    assert store.url.startswith("postgresql+psycopg://")
    record_audit(
        store,
        os_user="ana",
        target="postgresql://app:s3cret@db/app",
        action="pg.vacuum",
        mode="plan",
        params={},
        outcome="planned",
    )
    assert audit_history(store)[0]["target"] == "postgresql://app:***@db/app"
    for statement in (
        update(fix_audit).values(outcome="done"),
        delete(fix_audit),
        text("TRUNCATE fix_audit"),
    ):
        with pytest.raises(Exception, match="fix_audit is append-only"), store.engine.begin() as conn:
            conn.execute(statement)
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    store.close()


_OPEN = """
import sys
from perfbook.store import Store, record_audit
store = Store(sys.argv[1])
for i in range(20):
    record_audit(store, os_user=sys.argv[2], target="t", action="pg.vacuum", mode="plan", outcome="planned")
"""


def test_two_processes_open_a_new_postgres_store_at_once(pg_dsn: str) -> None:
    url = pg_store_url(pg_dsn)
    procs = [
        subprocess.Popen([sys.executable, "-c", _OPEN, url, who], stderr=subprocess.PIPE, text=True)
        for who in ("ana", "bo")
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    store = Store(url)
    rows = audit_history(store, limit=100)
    assert sorted(r["os_user"] for r in rows) == ["ana"] * 20 + ["bo"] * 20
    store.close()


def test_unreachable_postgres_is_one_line(pg_server) -> None:
    from perfbook.services import free_port

    with pytest.raises(StoreError, match=r"^store: postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:\d+/x: "):
        Store(f"postgresql://u:pw@127.0.0.1:{free_port()}/x")
