"""Run one load test on a checked :class:`~perfbook.load.cluster.Cluster` and merge what comes back.

The shares go out with one agreed start instant; then every :data:`POLL_S` the client polls the
live workers for progress (which also keeps their watchdog quiet and carries a stop) and applies
``--abort-on-errors`` to the sum. When a worker does not answer, the client asks the scheduler
which workers are still there: a worker gone is *lost* (its task is cancelled so it can never
run again elsewhere, and its last progress report is what the report counts). Ctrl-C stops every
worker; a second one gives up.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as PollTimeout
from contextlib import contextmanager
from functools import partial
from typing import Any

from perfbook.errors import PerfbookError
from perfbook.load.cluster import Cluster, confirmation_reason, connect
from perfbook.load.cluster_plan import START_MARGIN_S, Share, combine, share_plans
from perfbook.load.cluster_report import FAILED_STATES, ClusterLoadResult, WorkerRow
from perfbook.load.cluster_worker import ShareOutcome, poll, run_share
from perfbook.load.engine import Snapshot
from perfbook.load.result import LoadResult
from perfbook.load.runner import MIN_REQUESTS_FOR_ABORT, LoadRun, run_load

POLL_S = 1.0  # each poll is a round trip through the scheduler to every worker (≈ 5 ms of CPU in all)
POLL_TIMEOUT_S = 2.0  # a poll stuck on a worker that just vanished must not stall the loop


@contextmanager
def connected(
    located: tuple[str, str] | None, want_workers: int | None, host: str, method: str
) -> Iterator[Cluster | None]:
    """The checked cluster at ``located`` (from :func:`cluster_address`), or None: this machine.

    Its ``confirmation`` is why the run needs a yes, as its workers see the target.
    """
    if located is None:
        yield None
        return
    with connect(located[0], want_workers=want_workers) as grid:
        grid.confirmation = confirmation_reason(grid, host, method)
        yield grid


def runner_for(grid: Cluster | None, *, steps: bool = False) -> Callable[[LoadRun], LoadResult]:
    """How a run runs: this machine's processes, or the cluster (``steps``: capacity steps, where a
    lost worker ends the search)."""
    if grid is None:
        return run_load
    return step_runner(grid) if steps else partial(run_on_cluster, grid)


class _Interrupt:
    """SIGINT sets a flag (the loop then stops every worker); the second one raises as usual."""

    def __init__(self) -> None:
        self.hit = False
        self._old: Any = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_: object) -> None:
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def run_on_cluster(cluster: Cluster, run: LoadRun) -> ClusterLoadResult:
    """Run ``run`` split over the cluster's workers; the merged result, with one row per worker."""
    client = cluster.client
    plans = share_plans(run.plan, len(cluster.workers))
    workers = cluster.workers[: len(plans)]
    run_id = uuid.uuid4().hex[:12]
    rtt_s = max(w.clock.uncertainty_s for w in workers) * 2
    start_at = time.time() + START_MARGIN_S + 4 * rtt_s  # in our clock; each worker gets it in its own
    rows = [WorkerRow.of(w) for w in workers]
    futures = [
        client.submit(
            run_share,
            Share(run_id, k, plan, start_at + w.clock.offset_s, phase_s, run.abort_on_errors),
            key=f"perfbook-load-{run_id}-{k}",
            workers=[w.address],
            allow_other_workers=False,
            pure=False,
            retries=0,
        )
        for k, (w, (plan, phase_s)) in enumerate(zip(workers, plans, strict=True))
    ]
    result = ClusterLoadResult.for_run(run, cluster.address, len(workers))
    pool = ThreadPoolExecutor(1, thread_name_prefix="perfbook-poll")
    with _Interrupt() as interrupt:
        try:
            _watch(client, run, run_id, futures, rows, interrupt, pool, result)
        finally:
            client.cancel([f for f in futures if not f.done()])
            pool.shutdown(wait=False, cancel_futures=True)
    result.interrupted = result.interrupted or interrupt.hit
    result.finish(rows)
    return result


def step_runner(cluster: Cluster) -> Callable[[LoadRun], ClusterLoadResult]:
    """Cluster runs for the capacity search: a step that lost a worker (or was interrupted) ends it."""

    def run(load_run: LoadRun) -> ClusterLoadResult:
        result = run_on_cluster(cluster, load_run)
        if result.interrupted:
            raise KeyboardInterrupt
        if result.partial:
            missing = ", ".join(r.name for r in result.rows if r.status in FAILED_STATES)
            raise PerfbookError(
                f"capacity: {missing} lost during the {result.rate_rps:g} rps step; "
                "the search stops (that step's figures miss its share)"
            )
        return result

    return run


def _watch(client, run, run_id, futures, rows, interrupt, pool, result) -> None:
    latest: dict[int, Snapshot] = {}
    open_ = set(range(len(futures)))
    stop = False
    pending_poll = None
    next_at = time.monotonic()
    while open_:
        next_at += POLL_S
        if pending_poll is None:
            alive = [rows[k].address for k in sorted(open_)]
            pending_poll = pool.submit(client.run, poll, run_id, stop, workers=alive, on_error="return")
        all_answered = False
        try:  # fresh counts as soon as they come, and before judging losses
            pending_poll.result(max(0.0, next_at - time.monotonic()))
        except Exception:  # noqa: BLE001 - still on its way (or failed): judged below
            pass
        if pending_poll.done():
            all_answered = _take_snapshots(pending_poll, rows, latest, open_)
            pending_poll = None
        _wait_done(client, [futures[k] for k in open_], next_at - time.monotonic())
        # Asking the scheduler which workers are there costs a round trip: only when a worker did
        # not answer its poll (gone, or going) or a poll is still on its way.
        present: set[str] | None = None
        if not all_answered:
            try:
                present = set(client.nthreads())
            except (OSError, TimeoutError) as err:  # the scheduler itself is gone: so is every worker
                present = set()
                for k in open_:
                    rows[k].reason = f"scheduler unreachable ({err})"
        for k in sorted(open_):
            fut, row = futures[k], rows[k]
            if fut.done():
                open_.discard(k)
                _collect(fut, row, result)
            elif present is not None and row.address not in present:
                open_.discard(k)
                client.cancel([fut])  # never to run again on a restarted worker
                row.lose(latest.get(k), rows[k].reason or "left the cluster during the run")
        if interrupt.hit:
            stop = True
        snap = combine(list(latest.values()))
        if run.progress is not None:
            run.progress(snap)
        if not stop and _over_limit(snap, run.abort_on_errors):
            result.aborted = (
                f"error rate {snap.errors / snap.requests:.0%} over --abort-on-errors "
                f"{run.abort_on_errors:.0%} (all workers)"
            )
            stop = True
    if pending_poll is not None:
        try:
            pending_poll.result(POLL_TIMEOUT_S)
        except (PollTimeout, Exception):  # noqa: BLE001 - the run is over; a late poll changes nothing
            pass


def _wait_done(client, futures: list, timeout_s: float) -> None:
    """Until every one of ``futures`` is done or ``timeout_s`` is over: a run ends when its shares
    do, not at the next poll. (The scheduler tells the client of a task's end: no round trip.)"""
    if timeout_s <= 0:
        return
    if not futures:
        time.sleep(timeout_s)
        return
    from distributed import wait

    try:
        with client.as_current():  # perfbook's client is nobody's default
            wait(futures, timeout=timeout_s)
    except TimeoutError:
        pass


def _take_snapshots(done_poll, rows: list[WorkerRow], latest: dict[int, Snapshot], asked: set[int]) -> bool:
    """Keep each worker's fresh snapshot; True when every worker asked answered (with one, or None)."""
    try:
        answers = done_poll.result()
    except Exception:  # noqa: BLE001 - a failed poll only means no fresh progress this round
        return False
    answered = True
    for k, row in enumerate(rows):
        answer = answers.get(row.address)
        if isinstance(answer, dict):
            answer = dict(answer)
            answer.pop("stop_reason", None)
            latest[k] = Snapshot(**answer)
        elif k in asked and (row.address not in answers or isinstance(answer, BaseException)):
            answered = False
    return answered


def _over_limit(snap: Snapshot, limit: float) -> bool:
    return limit > 0 and snap.requests >= MIN_REQUESTS_FOR_ABORT and snap.errors / snap.requests > limit


def _collect(fut, row: WorkerRow, result: ClusterLoadResult) -> None:
    if fut.status == "cancelled":
        row.fail("cancelled")
        return
    err = fut.exception()
    if err is not None:
        row.fail(f"{type(err).__name__}: {err}")
        return
    outcome: ShareOutcome = fut.result()
    row.take(outcome)
    if outcome.result is not None:
        result.add(outcome.result)
