"""Run a load test: split it across worker processes, watch progress, merge the results.

One worker runs in this process (no start-up cost, and nothing between the loop and the
socket); more run as spawned processes, each with its own uvloop, sending progress snapshots
and finally their totals through a queue.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queue_mod
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event

from perfbook import interrupts
from perfbook.interrupts import StopFlag
from perfbook.load.engine import CUT, STOP, Snapshot, WorkerPlan, WorkerResult, run_worker
from perfbook.load.result import LoadResult

ProgressFn = Callable[[Snapshot], None]
MIN_REQUESTS_FOR_ABORT = 200


@dataclass
class LoadRun:
    """Everything a run needs besides the per-worker split."""

    plan: WorkerPlan  # the totals: connections, requests and stage rates are split per worker
    workers: int = 1
    target: str = ""
    method: str = "GET"
    abort_on_errors: float = 0.5  # stop when (transport errors + 5xx) / requests exceeds this; 0 = never
    progress: ProgressFn | None = None


def split(total: int, parts: int) -> list[int]:
    """``total`` spread evenly over ``parts`` (the first ones take the remainder).

    >>> split(10, 3)
    [4, 3, 3]
    """
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def worker_plans(plan: WorkerPlan, workers: int) -> list[WorkerPlan]:
    """Per-worker plans: connections, -n and the rate are totals, split evenly."""
    workers = max(1, min(workers, plan.connections))
    conns = split(plan.connections, workers)
    counts = split(plan.requests, workers) if plan.requests is not None else [None] * workers
    most = split(plan.max_connections, workers) if plan.max_connections else [0] * workers
    return [
        replace(
            plan,
            connections=conns[i],
            requests=counts[i],
            share=plan.share * conns[i] / plan.connections,
            max_connections=max(most[i], conns[i]) if plan.max_connections else 0,
        )
        for i in range(workers)
    ]


class _Abort:
    """Turns snapshots into progress calls and the stop decision (error spike, or a signal)."""

    def __init__(self, run: LoadRun, stop: StopFlag | None = None) -> None:
        self.run = run
        self.reason: str | None = None
        # SIGINT / SIGTERM caught while the run goes on
        self.signal = stop if stop is not None else StopFlag()

    @property
    def interrupted(self) -> bool:
        return bool(self.signal)

    def __call__(self, snap: Snapshot) -> int:
        if self.run.progress is not None:
            self.run.progress(snap)
        limit = self.run.abort_on_errors
        if limit > 0 and snap.requests >= MIN_REQUESTS_FOR_ABORT and snap.errors / snap.requests > limit:
            self.reason = f"error rate {snap.errors / snap.requests:.0%} over --abort-on-errors {limit:.0%}"
        if self.signal:
            return CUT
        return STOP if self.reason is not None else 0


def run_load(run: LoadRun, stop: StopFlag | None = None) -> LoadResult:
    """Run the test to its end (or an abort, or SIGINT / SIGTERM) and return the merged result.

    A signal cuts the run within a tick; the result is marked interrupted, with the signal in
    ``stop_signal``. ``stop`` may be a flag the caller already watches (capacity's whole search).
    """
    plans = worker_plans(run.plan, run.workers)
    result = LoadResult(
        target=run.target,
        method=run.method,
        mode="open" if run.plan.stages else "closed",
        connections=run.plan.connections,
        workers=len(plans),
        rate_rps=max(max(s.from_rps, s.to_rps) for s in run.plan.stages) if run.plan.stages else None,
        drain_s=run.plan.timeout_s if run.plan.stages else 0.0,
    )
    result.stages = [
        {"duration_s": st.duration_s, "from_rps": st.from_rps, "to_rps": st.to_rps} for st in run.plan.stages
    ]
    abort = _Abort(run, stop)
    parts = _run_inline(plans[0], abort) if len(plans) == 1 else _run_processes(plans, abort)
    for part in parts:
        result.add(part)
    result.aborted = abort.reason
    result.interrupted = result.interrupted or abort.interrupted
    result.stop_signal = abort.signal.signum
    return result


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        return asyncio.new_event_loop()


def _run_inline(plan: WorkerPlan, abort: _Abort) -> list[WorkerResult]:
    loop = _new_loop()
    try:
        with interrupts.caught(abort.signal, loop):  # SIGINT / SIGTERM: the next tick cuts the run
            return [loop.run_until_complete(run_worker(plan, abort))]
    finally:
        loop.close()


def _worker_main(plan: WorkerPlan, index: int, out: multiprocessing.Queue, stop: Event, cut: Event) -> None:
    for sig in interrupts.SIGNALS:  # the parent decides when to stop (a group-wide signal reaches us too)
        signal.signal(sig, signal.SIG_IGN)

    def control(snap: Snapshot) -> int:
        out.put(("progress", index, snap))
        return CUT if cut.is_set() else (STOP if stop.is_set() else 0)

    loop = _new_loop()
    try:
        out.put(("result", index, loop.run_until_complete(run_worker(plan, control))))
    finally:
        loop.close()


def _run_processes(plans: list[WorkerPlan], abort: _Abort) -> list[WorkerResult]:
    ctx = multiprocessing.get_context("spawn")  # fork would copy the parent's threads and locks
    out: multiprocessing.Queue = ctx.Queue()
    stop, cut = ctx.Event(), ctx.Event()
    procs = [
        ctx.Process(target=_worker_main, args=(p, i, out, stop, cut), daemon=True)
        for i, p in enumerate(plans)
    ]
    for proc in procs:
        proc.start()
    latest: dict[int, Snapshot] = {}
    results: dict[int, WorkerResult] = {}
    try:
        with interrupts.caught(abort.signal):
            while len(results) < len(procs):
                if abort.signal and not cut.is_set():
                    stop.set()
                    cut.set()
                try:
                    kind, index, payload = out.get(timeout=0.25)
                except queue_mod.Empty:
                    if not any(p.is_alive() for p in procs) and out.empty():
                        break  # a worker died without a result: report what arrived
                    continue
                if kind == "result":
                    results[index] = payload
                else:
                    latest[index] = payload
                    if index == 0 and abort(_combine(latest.values())):
                        stop.set()
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
    return [results[i] for i in sorted(results)]


def _combine(snaps) -> Snapshot:
    snaps = list(snaps)
    p50s = [s.p50_s for s in snaps if s.p50_s is not None]
    p99s = [s.p99_s for s in snaps if s.p99_s is not None]
    return Snapshot(
        elapsed_s=max(s.elapsed_s for s in snaps),
        requests=sum(s.requests for s in snaps),
        responses=sum(s.responses for s in snaps),
        errors=sum(s.errors for s in snaps),
        interval_rps=sum(s.interval_rps for s in snaps),
        p50_s=sum(p50s) / len(p50s) if p50s else None,  # live view only; the summary is exact
        p99_s=max(p99s) if p99s else None,
    )
