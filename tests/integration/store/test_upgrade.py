"""A store written by perfbook 0.1.0 (fix_audit only, no version table) upgrades without losing a row."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import update
from store_kit import sqlite_rows

from perfbook.store import Store, audit_history, fix_audit, record_audit
from perfbook.store.migrate import HEAD, upgrade

FIXTURE = Path(__file__).parents[2] / "fixtures" / "store" / "v0.1.0.db"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "perfbook.db"
    shutil.copy(FIXTURE, path)
    return path


def test_upgrade_keeps_every_audit_row(old_store: Path) -> None:
    before = sqlite_rows(old_store, "fix_audit")
    assert len(before) == 3
    store = Store(f"sqlite:///{old_store}")  # first use migrates
    # every row kept as it was; the columns 0004 added (reason, ticket, incident) are empty on the old rows
    assert [row[: len(before[0])] for row in sqlite_rows(old_store, "fix_audit")] == before
    assert {row[len(before[0]) :] for row in sqlite_rows(old_store, "fix_audit")} == {(None, None, None)}
    with sqlite3.connect(old_store) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"incidents", "timeline_events", "artifacts", "messages", "kpi_samples", "alert_states"} <= tables
    entries = audit_history(store)
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("redis.set_maxmemory", "failed"),
        ("pg.terminate", "done"),
        ("pg.terminate", "planned"),
    ]
    assert entries[1]["before"] == {"blocked": 7} and entries[1]["after"] == {"blocked": 0}
    record_audit(store, os_user="cy", target="t", action="pg.vacuum", mode="plan", outcome="planned")
    assert len(audit_history(store)) == 4
    with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:  # still guarded
        conn.execute(update(fix_audit).values(outcome="done"))
    store.close()


def test_upgrade_is_done_once(old_store: Path) -> None:
    store = Store(f"sqlite:///{old_store}", upgrade=False)
    first = upgrade(store)
    assert (first.before, first.after, first.changed) == (None, HEAD, True)
    again = upgrade(store)
    assert (again.before, again.after, again.changed) == (HEAD, HEAD, False)
    store.close()
