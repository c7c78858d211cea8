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

FAULTS = (
    "slow",
    "errors",
    "cpu",
    "leak",
    "nocache",
    "seqscan",
    "lock",
    "idle_tx",
    "pool",
    "bloat",
    "redis_full",
)
MAX_FAULT_S = 600.0  # every fault switches itself off after 10 min: nothing is left on forever


@dataclass(frozen=True)
class FaultParam:
    """One tunable of a fault: its type and the range it must lie in (inclusive)."""

    kind: type  # str, int or float
    low: float | None = None
    high: float | None = None

    @property
    def words(self) -> str:
        """``a number from 0 to 1``, ``an integer from 1 to 16``, ``text``."""
        kind = {str: "text", int: "an integer", float: "a number"}[self.kind]
        return kind if self.low is None else f"{kind} from {self.low:g} to {self.high:g}"


FAULT_PARAMS: dict[str, dict[str, FaultParam]] = {
    "slow": {"endpoint": FaultParam(str), "delay_s": FaultParam(float, 0.0, 60.0)},
    "errors": {"share": FaultParam(float, 0.0, 1.0)},
    "cpu": {"threads": FaultParam(int, 1, 16)},
    "leak": {"mb_per_s": FaultParam(float, 0.1, 100.0), "cap_mb": FaultParam(float, 1.0, 4096.0)},
    "idle_tx": {"sessions": FaultParam(int, 1, 50)},
    "bloat": {"rounds": FaultParam(int, 1, 50)},
}


class FaultParamError(ValueError):
    """A fault parameter that is unknown, of the wrong type or out of range (the message says which)."""


def check_params(name: str, raw: dict) -> dict:
    """``raw`` (strings from ``--param``, or JSON values) as the typed parameters of fault ``name``.

    >>> check_params("slow", {"delay_s": "5"})
    {'delay_s': 5.0}
    >>> check_params("slow", {"delay_s": "abc"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    perfbook.lab.faultstate.FaultParamError: slow: delay_s must be a number from 0 to 60, got 'abc' ...
    """
    spec = FAULT_PARAMS.get(name, {})
    takes = ", ".join(f"{k}: {p.words}" for k, p in spec.items()) or "no parameters"
    out = {}
    for key, value in raw.items():
        param = spec.get(key)
        if param is None:
            raise FaultParamError(f"{name}: unknown parameter {key!r} ({name} takes {takes})")
        try:
            typed = param.kind(value) if not isinstance(value, bool) else None
            if param.kind is int and isinstance(value, float) and not value.is_integer():
                typed = None
        except (TypeError, ValueError):
            typed = None
        if (
            typed is None
            or (param.low is not None and not param.low <= typed <= param.high)
            or typed != typed
        ):
            raise FaultParamError(
                f"{name}: {key} must be {param.words}, got {value!r} ({name} takes {takes})"
            )
        out[key] = typed
    return out


FAULT_SENTENCES = {
    "slow": "{endpoint} answers {delay_s:g} s late",
    "errors": "{share:.0%} of API requests answer 500",
    "cpu": "{threads} thread(s) spin on the backend's CPU",
    "leak": "the backend's memory grows {mb_per_s:g} MB/s up to {cap_mb:g} MB",
    "nocache": "the backend reads past Redis",
    "seqscan": "the index behind e-mail search is dropped",
    "lock": "a session holds a lock the API's writes wait on",
    "idle_tx": "{sessions} sessions sit idle in a transaction",
    "pool": "the backend's connection pool is held",
    "bloat": "{rounds} rounds of updates leave dead rows in agents (autovacuum off)",
    "redis_full": "Redis is at its maxmemory with noeviction: cache writes fail",
}


def fault_sentence(name: str, on: bool, params: dict, until: float = 0.0, now: float = 0.0) -> str:
    """What a switch did, as a sentence (``lab fault NAME on|off``).

    >>> fault_sentence("slow", True, {"endpoint": "/api/v1/agents", "delay_s": 3.0}, until=700, now=100)
    'fault slow is on: /api/v1/agents answers 3 s late (switches itself off in 10 min).'
    >>> fault_sentence("seqscan", False, {})
    'fault seqscan is off: the stack is back to its healthy state.'
    """
    if not on:
        return f"fault {name} is off: the stack is back to its healthy state."
    try:
        what = FAULT_SENTENCES[name].format(**params)
    except (KeyError, ValueError):
        what = f"on with {', '.join(f'{k}={v}' for k, v in params.items())}"
    left = f" (switches itself off in {max(until - now, 0) / 60:.0f} min)" if until else ""
    return f"fault {name} is on: {what}{left}."


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
