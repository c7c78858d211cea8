"""Splitting one load test over a cluster's workers, and agreeing on time with them (pure).

Closed loop: connections and ``-n`` are split exactly (:func:`~perfbook.load.runner.split`), so
the total is the total asked for. Open loop: every worker takes an equal share of the rate, and
worker k of K starts its share where the k-th request of the whole schedule falls: its requests
are then exactly the whole schedule's requests k, k+K, k+2K … and the merged arrivals stay evenly
spaced at the total rate (for ramps too: the stages are cut at that instant, not merely delayed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from perfbook.load.engine import Snapshot, WorkerPlan
from perfbook.load.runner import split
from perfbook.load.schedule import Schedule, Stage

# The agreed start is this far ahead of the moment the shares are sent (plus a few round trips):
# every worker must have its share in hand and its engine process started and waiting by then.
START_MARGIN_S = 2.0
# A share that reaches its worker later than this after the agreed start is refused, not run
# out of step with the others (a worker busy with someone else's tasks, a stalled network).
LATEST_START_S = 5.0
# A worker stops its share when the client has not polled it for this long (client killed).
WATCHDOG_S = 10.0


@dataclass(frozen=True)
class Share:
    """One worker's part of a run (picklable: sent to a Dask worker).

    ``start_at`` is the agreed start in the worker's own clock (``time.time()``, the client's
    instant plus the worker's measured offset); the worker begins ``phase_s`` after it.
    """

    run_id: str
    index: int
    plan: WorkerPlan
    start_at: float = 0.0
    phase_s: float = 0.0
    abort_on_errors: float = 0.5
    latest_start_s: float = LATEST_START_S
    watchdog_s: float = WATCHDOG_S


def cut_stages(stages: tuple[Stage, ...], at_s: float) -> tuple[Stage, ...]:
    """The stages from ``at_s`` seconds on: what a schedule starting at that instant follows.

    >>> cut_stages((Stage(10.0, 100, 200), Stage(5.0, 50, 50)), 5.0)
    (Stage(duration_s=5.0, from_rps=150.0, to_rps=200), Stage(duration_s=5.0, from_rps=50, to_rps=50))
    """
    out: list[Stage] = []
    start_s = 0.0
    for stage in stages:
        end_s = start_s + stage.duration_s
        if end_s <= at_s:
            start_s = end_s
            continue
        into_s = max(at_s - start_s, 0.0)
        if into_s > 0:
            rate = stage.from_rps + (stage.to_rps - stage.from_rps) * into_s / stage.duration_s
            stage = Stage(stage.duration_s - into_s, rate, stage.to_rps)
        out.append(stage)
        start_s = end_s
    return tuple(out)


def share_plans(plan: WorkerPlan, workers: int) -> list[tuple[WorkerPlan, float]]:
    """Each worker's plan and its phase (seconds after the common start); at most one per connection."""
    workers = max(1, min(workers, plan.connections))
    conns = split(plan.connections, workers)
    counts = split(plan.requests, workers) if plan.requests is not None else [None] * workers
    if plan.max_connections:  # the limit is a total, like -c
        most = split(plan.max_connections, workers)
        plan = replace(plan, max_connections=0)
        return [
            (replace(p, max_connections=max(most[k], p.connections)), phase)
            for k, (p, phase) in enumerate(share_plans(plan, workers))
        ]
    if not plan.stages:
        return [(replace(plan, connections=conns[k], requests=counts[k]), 0.0) for k in range(workers)]
    whole = Schedule(list(plan.stages), plan.share)
    out = []
    for k in range(workers):
        phase_s = whole.at(k) or 0.0  # the k-th request of the whole schedule
        stages = cut_stages(plan.stages, phase_s)
        share = plan.share / workers
        out.append(
            (replace(plan, connections=conns[k], requests=counts[k], stages=stages, share=share), phase_s)
        )
    return out


def pacing_per_connection(plans: list[tuple[WorkerPlan, float]]) -> float:
    """The highest open-loop rate one connection of any worker must hold (rps); 0 in closed loop."""
    peaks = [
        max(max(s.from_rps, s.to_rps) for s in p.stages) * p.share / p.connections
        for p, _ in plans
        if p.stages
    ]
    return max(peaks, default=0.0)


@dataclass(frozen=True)
class ClockOffset:
    """A worker's clock minus the client's (s), known to within ± ``uncertainty_s``."""

    offset_s: float
    uncertainty_s: float


def clock_offset(rounds: list[tuple[float, float, float]]) -> ClockOffset:
    """From (client sent, client received, worker's clock) exchanges: the tightest one wins.

    The worker read its clock somewhere between send and receive, so the offset is known to within
    half that round trip (the NTP argument, without assuming the two legs are equal).

    >>> clock_offset([(10.0, 10.004, 12.003), (20.0, 20.002, 22.0015)])
    ClockOffset(offset_s=2.0005, uncertainty_s=0.001)
    """
    sent, received, theirs = min(rounds, key=lambda r: r[1] - r[0])
    mid = (sent + received) / 2
    return ClockOffset(round(theirs - mid, 7), round((received - sent) / 2, 7))


def combine(snaps: list[Snapshot]) -> Snapshot:
    """One live-view snapshot of several workers (counts summed; percentiles only indicative)."""
    if not snaps:
        return Snapshot()
    p50s = [s.p50_s for s in snaps if s.p50_s is not None]
    p99s = [s.p99_s for s in snaps if s.p99_s is not None]
    return Snapshot(
        elapsed_s=max(s.elapsed_s for s in snaps),
        requests=sum(s.requests for s in snaps),
        responses=sum(s.responses for s in snaps),
        errors=sum(s.errors for s in snaps),
        interval_rps=sum(s.interval_rps for s in snaps),
        p50_s=sum(p50s) / len(p50s) if p50s else None,  # live view only: the summary merges histograms
        p99_s=max(p99s) if p99s else None,
    )
