"""Two perfbook processes writing notes to one incident at once lose nothing: SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfbook.incidents import records
from perfbook.store import Store

# Each process runs `perfbook incident note` 100 times through the CLI's own entry point (one
# interpreter, so the test measures the store and not 200 Python start-ups).
_NOTES = """
import contextlib, io, sys
from perfbook.cli import main
who = sys.argv[1]
for i in range(100):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["incident", "note", "INC-1", f"{who} {i}", "--as", who, "--json"])
        except SystemExit as exit_:
            if exit_.code:
                sys.exit(f"note {i} exited {exit_.code}")
"""


def _two_writers(url: str) -> list[str]:
    store = Store(url)
    records.open_incident(store, title="many hands", actor="ana", severity="P2")
    store.close()
    env = {**os.environ, "PERFBOOK_STORE_URL": url}
    env.pop("PERFBOOK_INCIDENT", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", _NOTES, who], env=env, stderr=subprocess.PIPE, text=True)
        for who in ("ana", "bo")
    ]
    for proc in procs:
        assert proc.wait(timeout=240) == 0, proc.stderr.read()
    store = Store(url)
    notes = [e.summary for e in records.timeline(store, 1) if e.kind == "note"]
    store.close()
    return notes


def _check(notes: list[str]) -> None:
    assert len(notes) == 200
    for who in ("ana", "bo"):  # every note, and each writer's in the order it wrote them
        assert [n for n in notes if n.startswith(who)] == [f"{who} {i}" for i in range(100)]


@pytest.mark.slow
def test_two_processes_on_one_sqlite_store(tmp_path: Path) -> None:
    _check(_two_writers(f"sqlite:///{tmp_path / 'perfbook.db'}"))


@pytest.mark.slow
def test_two_processes_on_one_postgres_store(pg_dsn: str) -> None:
    _check(_two_writers(pg_dsn))
