"""The store's schema: migrations and metadata agree, history is guarded, a newer store is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, update

from perfbook.store import Store, StoreError, artifacts, messages, metadata, now_iso, timeline_events
from perfbook.store.migrate import HEAD, MIGRATIONS, REVISIONS


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'perfbook.db'}")


def test_revisions_listed_are_the_shipped_scripts() -> None:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    chain = [s.revision for s in scripts.walk_revisions()][::-1]
    assert tuple(chain) == REVISIONS and scripts.get_current_head() == HEAD


def test_a_migrated_store_matches_the_metadata(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.close()


def _incident(store: Store) -> int:
    from perfbook.store import incidents

    now = now_iso()
    return store.insert(
        incidents,
        {
            "title": "t",
            "status": "investigating",
            "impact": "none",
            "issue_types": [],
            "endpoints": [],
            "components": [],
            "owner": "ana",
            "opened_at": now,
            "updated_at": now,
            "last_update_at": now,
        },
    )


def test_timeline_and_artifacts_are_append_only(tmp_path: Path) -> None:
    store = _store(tmp_path)
    inc = _incident(store)
    store.insert(
        timeline_events,
        {"incident_id": inc, "at": now_iso(), "kind": "note", "actor": "ana", "summary": "x", "data": {}},
    )
    store.insert(
        artifacts,
        {
            "incident_id": inc,
            "kind": "triage",
            "at": now_iso(),
            "actor": "ana",
            "summary": "s",
            "document": {"severity": "P2"},
        },
    )
    for table in (timeline_events, artifacts):
        for statement in (update(table).values(actor="eve"), delete(table)):
            with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
                conn.execute(statement)
    store.close()


def test_a_sent_message_is_final_and_never_deleted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    row = {
        "idempotency_key": "INC-1:detected:email",
        "event": "detected",
        "audience": "internal",
        "channel": "email",
        "recipients": ["ops@example.com"],
        "outcome": "pending",
        "attempts": 1,
        "created_at": now_iso(),
        "claimed_at": now_iso(),
    }
    msg = store.insert(messages, row)
    with store.engine.begin() as conn:  # pending -> failed -> pending -> sent is the life of a delivery
        for outcome in ("failed", "pending", "sent"):
            conn.execute(update(messages).where(messages.c.id == msg).values(outcome=outcome))
    with pytest.raises(Exception, match="final"), store.engine.begin() as conn:
        conn.execute(update(messages).values(outcome="failed"))
    with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
        conn.execute(delete(messages))
    with pytest.raises(StoreError, match="UNIQUE"):  # one delivery per key, ever
        store.insert(messages, row)
    store.close()


def test_a_store_from_a_newer_perfbook_is_refused(tmp_path: Path) -> None:
    _store(tmp_path).close()
    with sqlite3.connect(tmp_path / "perfbook.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
    with pytest.raises(StoreError, match="0999, newer than this perfbook"):
        _store(tmp_path)
