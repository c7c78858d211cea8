"""What runs inside a Dask worker: one share of the load test, on the same engine as a local run.

:func:`run_share` is the task (one per worker process, a coroutine on the worker's event loop).
It starts the share's engine process (:mod:`perfbook.load.cluster_engine`: the engine alone on
its uvloop, as in a local run, not sharing an interpreter lock with Dask's own thread), and
relays between it and the client: the engine's progress snapshots to :func:`poll`, which runs on
the same event loop (``Client.run``) and hands them to the client, and the client's stop to the
engine.
The totals come back with the histograms encoded.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import psutil

from perfbook.load.cluster_engine import frame
from perfbook.load.cluster_plan import Share
from perfbook.load.engine import Snapshot, WorkerResult
from perfbook.load.runner import MIN_REQUESTS_FOR_ABORT
from perfbook.locality import resolves_local as is_local


@dataclass
class _State:
    """A running share, as :func:`poll` sees it (written by the engine's tick, read by polls)."""

    snapshot: Snapshot | None = None
    stop: bool = False
    stop_reason: str | None = None
    last_poll: float = 0.0  # time.monotonic() of the client's last poll


# run id → state; one share per run per worker process. A stop for a share that already ended
# leaves a few bytes behind (the stop must be kept for a share that has not begun yet).
_ACTIVE: dict[str, _State] = {}


@dataclass
class ShareOutcome:
    """What a worker returns: the engine's totals (None when refused) and how the share ran."""

    index: int
    result: WorkerResult | None = None
    started_at: float = 0.0  # the worker's clock when the engine started
    start_error_s: float = 0.0  # started_at minus the instant it was asked to start at
    cpu_s: float = 0.0  # the engine process's CPU (user + system) from its start to its end
    refused: str | None = None
    stop_reason: str | None = None  # why the share stopped itself (its own error rate, watchdog)


def identify(dask_worker: Any = None) -> dict[str, Any]:
    """Who this worker is: its Dask name, host name, pid (``Client.run`` passes ``dask_worker``)."""
    name = getattr(dask_worker, "name", None)
    return {
        "name": str(name) if name is not None else None,
        "host": socket.gethostname(),
        "pid": psutil.Process().pid,
    }


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


def _stop_reason(share: Share, state: _State, snap: Snapshot | None) -> str | None:
    """Why the share must stop now (client's stop, its own error rate, a silent client), if it must."""
    limit = share.abort_on_errors
    if (
        snap is not None
        and limit > 0
        and snap.requests >= MIN_REQUESTS_FOR_ABORT
        and snap.errors / snap.requests > limit
    ):
        state.stop_reason = state.stop_reason or (
            f"error rate {snap.errors / snap.requests:.0%} over --abort-on-errors {limit:.0%}"
        )
    if time.monotonic() - state.last_poll > share.watchdog_s:
        state.stop_reason = state.stop_reason or f"no word from the client for {share.watchdog_s:g}s"
    return state.stop_reason if (state.stop or state.stop_reason) else None


async def run_share(share: Share) -> ShareOutcome:
    """Run one worker's share in an engine process of its own and return its totals (the Dask task).

    A coroutine: Dask runs it on the worker's event loop, beside :func:`poll`, so no task thread
    sits blocked on a pipe for the whole run (where Dask's profiler would walk its stack 100
    times a second). It relays: the engine's snapshots to :func:`poll`, and a stop (the client's,
    the share's own error rate, the watchdog) to the engine. Cancelled (the client gave the share
    up), it closes the engine's pipe, which stops the engine at once.
    """
    late_s = time.time() - share.start_at
    if late_s > share.latest_start_s:
        return ShareOutcome(share.index, refused=f"the share arrived {late_s:.1f}s after the agreed start")
    state = _ACTIVE.setdefault(share.run_id, _State())  # a stop may have come before the share
    state.last_poll = time.monotonic()
    engine = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "perfbook.load.cluster_engine", stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert engine.stdin is not None and engine.stdout is not None  # both made with PIPE
    try:
        engine.stdin.write(frame(share))
        await engine.stdin.drain()
        done = await _relay(share, state, engine)
    finally:
        _ACTIVE.pop(share.run_id, None)
        await _end(engine)
    if done is None:
        return ShareOutcome(
            share.index, refused=f"the engine process ended without a result ({engine.returncode})"
        )
    result, started_at, cpu_s = done
    return ShareOutcome(
        share.index,
        result=result,
        started_at=started_at,
        start_error_s=started_at - (share.start_at + share.phase_s),
        cpu_s=cpu_s,
        stop_reason=state.stop_reason,
    )


async def _read_frame(out: asyncio.StreamReader) -> Any:
    try:
        (size,) = struct.unpack("!I", await out.readexactly(4))
        return pickle.loads(await out.readexactly(size))
    except asyncio.IncompleteReadError:  # the engine ended
        return None


async def _relay(share: Share, state: _State, engine: asyncio.subprocess.Process) -> Any:
    assert engine.stdin is not None and engine.stdout is not None  # both made with PIPE
    told = False
    while (message := await _read_frame(engine.stdout)) is not None:
        kind, payload = message
        if kind == "done":
            return payload
        if kind == "snapshot":
            state.snapshot = payload
        if not told and _stop_reason(share, state, state.snapshot if kind == "snapshot" else None):
            told = True
            try:
                engine.stdin.write(b"stop")
                await engine.stdin.drain()
            except OSError:  # it ended meanwhile: its last frame says how
                pass
    return None


async def _end(engine: asyncio.subprocess.Process) -> None:
    if engine.stdin is not None:
        engine.stdin.close()  # end of file: an engine still running stops at once
    try:
        await asyncio.wait_for(engine.wait(), 5)
    except TimeoutError:
        engine.kill()
        await engine.wait()
    except asyncio.CancelledError:  # given up while ending: end it now
        engine.kill()
        raise
