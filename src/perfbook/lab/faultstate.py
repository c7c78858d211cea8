"""The fault switches, kept in ``faults.json`` in the lab's state directory.

A file, not one worker's memory, so a switch reaches both workers; not Redis either, because the
``redis_full`` fault makes Redis refuse writes. Writers hold ``faults.lock`` (flock) and replace
the file atomically; every worker re-reads it when its mtime changes (polled every 200 ms).

    store = FaultStore(state_dir)
    with store.locked() as faults:          # read-modify-write under the lock
        faults["slow"] = FaultEntry(on=True, params={"delay_s": 3.0}, until=time.time() + 600)
    FaultStore(state_dir).read()["slow"].on  # True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from perfbook.lab.state import write_private_json

FAULTS = ("slow", "errors", "cpu", "leak", "nocache", "seqscan", "lock", "idle_tx", "pool", "bloat", "redis_full")
MAX_FAULT_S = 600.0  # every fault switches itself off after 10 min: nothing is left on forever


@dataclass
class FaultEntry:
    """One fault's switch. ``params`` tune it; ``saved`` holds what ``off`` must put back."""

    on: bool = False
    params: dict = field(default_factory=dict)
    since: float = 0.0  # epoch seconds it was switched on
    until: float = 0.0  # epoch seconds after which it switches itself off
    holder_pid: int | None = None  # the fault-holder process of lock / idle_tx / pool
    saved: dict = field(default_factory=dict)


class FaultStore:
    """Read and write faults.json; cheap ``refresh`` for the per-request readers."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "faults.json"
        self.lock_path = Path(state_dir) / "faults.lock"
        self._mtime_ns = -1
        self._cache: dict[str, FaultEntry] = {}

    def read(self) -> dict[str, FaultEntry]:
        """Every fault's entry (missing ones off)."""
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            raw = {}
        return {name: FaultEntry(**raw[name]) if name in raw else FaultEntry() for name in FAULTS}

    def refresh(self) -> dict[str, FaultEntry]:
        """The entries, re-read only when the file changed since the last call."""
        try:
            mtime_ns = os.stat(self.path).st_mtime_ns
        except OSError:
            mtime_ns = 0
        if mtime_ns != self._mtime_ns:
            self._cache = self.read()
            self._mtime_ns = mtime_ns
        return self._cache

    def write(self, faults: dict[str, FaultEntry]) -> None:
        write_private_json(self.path, {name: asdict(entry) for name, entry in faults.items()})

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, FaultEntry]]:
        """Read-modify-write under an exclusive flock; the dict is written back on success."""
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            faults = self.read()
            yield faults
            self.write(faults)
