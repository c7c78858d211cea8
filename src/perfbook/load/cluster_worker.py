"""What runs inside a Dask worker: the same engine as a local run, on its own event loop.

:func:`run_share` is the task (one per worker process, in the worker's task thread): it waits
for the agreed instant, runs :func:`~perfbook.load.engine.run_worker` on a fresh uvloop, and
returns the engine's totals with the histograms encoded. :func:`poll` runs on the worker's own
event loop (``Client.run``) while the task runs: it hands the latest progress snapshot to the
client and carries the client's stop. The hot loop never waits on the network for either: the
engine's tick only reads and writes a few attributes of the share's state.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any

import psutil

from perfbook.load.cluster_plan import Share
from perfbook.load.engine import Snapshot, WorkerResult, run_worker
from perfbook.load.runner import MIN_REQUESTS_FOR_ABORT
from perfbook.load.safety import is_local

SPIN_S = 0.01  # the last moments before the start are spun, not slept: timers are ms-coarse


@dataclass
class _State:
    """A running share, as :func:`poll` sees it (written by the engine's tick, read by polls)."""

    snapshot: Snapshot | None = None
    stop: bool = False
    stop_reason: str | None = None
    last_poll: float = 0.0  # time.monotonic() of the client's last poll


_ACTIVE: dict[str, _State] = {}  # run id → state; one share per run per worker process


@dataclass
class ShareOutcome:
    """What a worker returns: the engine's totals (None when refused) and how the share ran."""

    index: int
    result: WorkerResult | None = None
    started_at: float = 0.0  # the worker's clock when the engine started
    start_error_s: float = 0.0  # started_at minus the instant it was asked to start at
    cpu_s: float = 0.0  # this worker process's CPU (user + system) during the share
    refused: str | None = None
    stop_reason: str | None = None  # why the share stopped itself (its own error rate, watchdog)


def identify(dask_worker: Any = None) -> dict[str, Any]:
    """Who this worker is: its Dask name, host name, pid (``Client.run`` passes ``dask_worker``)."""
    name = getattr(dask_worker, "name", None)
    return {"name": str(name) if name is not None else None, "host": socket.gethostname(),
            "pid": psutil.Process().pid}


def is_remote_here(host: str) -> bool:
    """The safety question asked on the worker itself: is the target off THIS machine?"""
    return not is_local(host)


def poll(run_id: str, stop: bool = False) -> dict[str, Any] | None:
    """The share's latest snapshot (None before it started or after it ended); ``stop`` stops it."""
    state = _ACTIVE.setdefault(run_id, _State()) if stop else _ACTIVE.get(run_id)
    if state is None:
        return None
    state.last_poll = time.monotonic()
    if stop and not state.stop:
        state.stop, state.stop_reason = True, state.stop_reason or "stopped by the client"
    snap = state.snapshot
    return None if snap is None else {**snap.__dict__, "stop_reason": state.stop_reason}


def _control(share: Share, state: _State):
    limit = share.abort_on_errors

    def control(snap: Snapshot) -> bool:
        state.snapshot = snap
        if limit > 0 and snap.requests >= MIN_REQUESTS_FOR_ABORT and snap.errors / snap.requests > limit:
            state.stop_reason = state.stop_reason or (
                f"error rate {snap.errors / snap.requests:.0%} over --abort-on-errors {limit:.0%}"
            )
            state.stop = True
        if time.monotonic() - state.last_poll > share.watchdog_s:
            state.stop_reason = state.stop_reason or f"no word from the client for {share.watchdog_s:g}s"
            state.stop = True
        return state.stop

    return control


async def _at_start(share: Share, state: _State) -> tuple[WorkerResult | None, float]:
    begin = share.start_at + share.phase_s
    while (wait_s := begin - time.time() - SPIN_S) > 0:
        if state.stop:  # interrupted before the start: send nothing
            return None, time.time()
        await asyncio.sleep(min(wait_s, 0.05))
    while time.time() < begin:
        pass
    started_at = time.time()
    state.last_poll = time.monotonic()
    return await run_worker(share.plan, _control(share, state)), started_at


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        return asyncio.new_event_loop()


class _ProfilerPaused:
    """Dask's statistical profiler samples the task thread's stack 100 times a second (its default):
    in a process whose one job is sending load, that is CPU taken from the engine. Paused for the
    share, resumed after; its callbacks belong to the worker's event loop, so they are touched there."""

    KEYS = ("profile", "profile-cycle")

    def __init__(self) -> None:
        try:
            from distributed import get_worker

            self.worker = get_worker()
        except (ImportError, ValueError):  # not inside a Dask task (tests call run_share directly)
            self.worker = None
        self.paused: list[Any] = []

    def _each(self, method: str) -> None:
        for pc in self.paused:
            self.worker.loop.add_callback(getattr(pc, method))

    def __enter__(self) -> _ProfilerPaused:
        if self.worker is not None:
            callbacks = getattr(self.worker, "periodic_callbacks", {})
            self.paused = [callbacks[k] for k in self.KEYS if k in callbacks and callbacks[k].is_running()]
            self._each("stop")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.worker is not None:
            self._each("start")


def run_share(share: Share) -> ShareOutcome:
    """Run one worker's share at the agreed instant and return its totals (the Dask task)."""
    late_s = time.time() - share.start_at
    if late_s > share.latest_start_s:
        return ShareOutcome(share.index, refused=f"the share arrived {late_s:.1f}s after the agreed start")
    state = _ACTIVE.setdefault(share.run_id, _State())  # a stop may have come before the share
    state.last_poll = time.monotonic()
    proc = psutil.Process()
    cpu_before = sum(proc.cpu_times()[:2])
    loop = _new_loop()
    try:
        with _ProfilerPaused():
            result, started_at = loop.run_until_complete(_at_start(share, state))
    finally:
        loop.close()
        _ACTIVE.pop(share.run_id, None)
    return ShareOutcome(
        share.index,
        result=result,
        started_at=started_at,
        start_error_s=started_at - (share.start_at + share.phase_s),
        cpu_s=sum(proc.cpu_times()[:2]) - cpu_before,
        stop_reason=state.stop_reason,
    )
