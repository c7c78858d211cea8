"""The default store on SQLite: private file modes, WAL, several writing processes, clear errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from store_kit import sqlite_rows

from perfbook.config import Config
from perfbook.errors import ConfigError
from perfbook.store import Store, audit_history, open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_store_is_private(tmp_path: Path) -> None:
    store = open_store(Config(), env={"XDG_STATE_HOME": str(tmp_path / "state")})
    store.read(lambda conn: None)
    db = tmp_path / "state" / "perfbook" / "perfbook.db"
    assert _mode(db.parent) == 0o700
    assert {p.name: _mode(p) for p in db.parent.iterdir()} == {
        "perfbook.db": 0o600,
        "perfbook.db-wal": 0o600,
        "perfbook.db-shm": 0o600,
    }
    assert sqlite_rows(db, "alembic_version")
    store.close()


def test_default_state_dir_made_by_0_1_0_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "perfbook"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    (state / "perfbook.db").touch(mode=0o644)
    (state / "perfbook.db").chmod(0o644)
    open_store(Config(), env={"XDG_STATE_HOME": str(tmp_path)}).close()
    assert (_mode(state), _mode(state / "perfbook.db")) == (0o700, 0o600)


_WRITER = """
import sys
from perfbook.store import Store, record_audit
store = Store(sys.argv[1])
for i in range(100):
    record_audit(store, os_user=sys.argv[2], target="t", action="pg.vacuum", mode="plan", outcome="planned")
"""


def test_two_processes_writing_a_new_store_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, who], stderr=subprocess.PIPE, text=True)
        for who in ("ana", "bo")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    store = Store(url)
    users = [r["os_user"] for r in audit_history(store, limit=500)]
    assert (users.count("ana"), users.count("bo")) == (100, 100)
    assert store.read(lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar()) == "wal"
    store.close()


@pytest.mark.parametrize("make", ["file_as_dir", "dir_as_file"])
def test_a_store_path_that_cannot_be_written_is_one_line(tmp_path: Path, make: str) -> None:
    blocker = tmp_path / "blocker"
    if make == "file_as_dir":
        blocker.write_text("x")
        path = blocker / "perfbook.db"
    else:
        blocker.mkdir()
        path = blocker
    with pytest.raises(ConfigError, match=f"^store: .*{blocker.name}"):
        Store(f"sqlite:///{path}")
    assert sorted(os.listdir(tmp_path)) == ["blocker"]


def test_not_a_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        Store("just words")
