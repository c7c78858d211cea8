"""The store: SQLite in the state dir by default, an append-only audit table, history newest first."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from perfbook.config import Config
from perfbook.errors import PerfbookError
from perfbook.store import Store, audit_history, fix_audit, record_audit, store_url


def test_default_url_is_under_the_state_dir(tmp_path) -> None:
    assert (
        store_url(Config(), env={"XDG_STATE_HOME": str(tmp_path)})
        == f"sqlite:///{tmp_path}/perfbook/perfbook.db"
    )
    assert store_url(Config(), env={"HOME": "/h"}).endswith("/.local/state/perfbook/perfbook.db")
    cfg = Config.model_validate({"store": {"url": "postgresql://team@db/perfbook"}})
    assert store_url(cfg) == "postgresql://team@db/perfbook"


def test_audit_is_append_only_and_redacted(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'perfbook.db'}")
    first = record_audit(
        store,
        os_user="ana",
        target="postgresql://app:s3cret@db/app",
        action="pg.vacuum",
        mode="plan",
        params={"table": ["t"]},
        plan={"steps": ["VACUUM t"]},
        outcome="planned",
    )
    record_audit(
        store,
        os_user="ana",
        target="redis://:pw@cache:6379/0",
        action="redis.flush_cache",
        mode="apply",
        outcome="failed",
        error="connect to redis://:pw@cache:6379/0 refused",
        before={"keys": 3},
        after={},
    )
    rows = audit_history(store)
    assert [r["action"] for r in rows] == ["redis.flush_cache", "pg.vacuum"]
    assert rows[1]["target"] == "postgresql://app:***@db/app" and rows[1]["plan"] == {"steps": ["VACUUM t"]}
    assert "pw" not in rows[0]["error"] and rows[0]["before"] == {"keys": 3}
    assert [r["id"] for r in audit_history(store, action="pg.vacuum")] == [first]
    for statement in (update(fix_audit).values(outcome="done"), delete(fix_audit)):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(statement)
    assert len(audit_history(store)) == 2
    store.close()


def test_unusable_store_is_one_line() -> None:
    with pytest.raises(PerfbookError, match=r"store: .*nosuchdriver"):
        Store("nosuchdriver://x/y")
