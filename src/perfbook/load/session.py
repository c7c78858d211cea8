"""One ``perfbook load`` run from the user's side: watch, run, judge. Returns; ``cli/`` prints and exits.

outcome = run_session(run, objectives, watch_patterns=None, progress=live)
outcome.doc          # the --json document (result, "watch", "slo", "timeline": latency over time)
outcome.missed       # an SLO missed, the run aborted or failed as a whole (exit 3 in the CLI)
outcome.partial      # a cluster worker was lost: the figures miss its share (exit 1)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from perfbook.load.engine import Snapshot
from perfbook.load.result import LoadResult
from perfbook.load.runner import LoadRun, run_load
from perfbook.load.slo import Objective, Verdict, judge


@dataclass
class SessionOutcome:
    """What one load run gave: its JSON document, the SLO verdicts, and how it ended."""

    doc: dict[str, Any]
    verdicts: list[Verdict]
    interrupted: bool  # SIGINT / SIGTERM ended it (the figures cover the part that ran)
    missed: bool  # failed (see ``failed``) or an objective not met
    partial: bool = False  # a cluster run that lost a worker: its share is missing from the figures
    failed: str | None = None  # why the run failed as a whole: every request failed, errors over the limit …
    stop_signal: int | None = None  # the signal that ended it, for the exit code (130 / 143)


def run_session(
    run: LoadRun,
    objectives: list[Objective],
    *,
    watch_patterns: list[str] | None = None,
    progress: Callable[[Snapshot], None] | None = None,
    runner: Callable[[LoadRun], LoadResult] = run_load,
) -> SessionOutcome:
    """Run (sampling the host and ``watch_patterns`` processes when given) and judge ``objectives``.

    ``runner`` runs the test: this machine's processes (default), or a cluster's workers.
    """
    from perfbook.load.watch import ResourceWatch

    watcher = ResourceWatch(watch_patterns) if watch_patterns is not None else nullcontext()
    ticks: list[Snapshot] = []

    def record(snap: Snapshot) -> None:
        ticks.append(snap)
        if progress is not None:
            progress(snap)

    with watcher as w:
        run.progress = record
        result = runner(run)
    doc: dict[str, Any] = result.to_json()
    doc["timeline"] = timeline_of(ticks)
    if w is not None:  # watching (nullcontext gives None)
        doc["watch"] = w.summary()
    verdicts = judge(objectives, doc)
    doc["slo"] = [v.to_json() for v in verdicts] if objectives else None
    failed = result.aborted or result.failure(run.abort_on_errors)  # no --slo needed to fail (#12)
    doc["failed"] = failed
    missed = bool(failed) or any(not v.met for v in verdicts)
    return SessionOutcome(
        doc,
        verdicts,
        result.interrupted,
        missed,
        bool(getattr(result, "partial", False)),
        failed,
        getattr(result, "stop_signal", None),
    )


TIMELINE_POINTS = 600  # a 10-minute run at 4 ticks a second is 2,400: every 4th is kept


def timeline_of(ticks: list[Snapshot]) -> list[dict[str, Any]]:
    """Latency over time: each tick's rate and its interval p50 / p99 (the live view's figures, a sample).

    >>> [p["elapsed_s"] for p in timeline_of([Snapshot(elapsed_s=i * 0.25) for i in range(1, 5)])]
    [0.25, 0.5, 0.75, 1.0]
    """
    step = max(1, -(-len(ticks) // TIMELINE_POINTS))
    return [
        {
            "elapsed_s": round(t.elapsed_s, 3),
            "rps": round(t.interval_rps, 1),
            "p50_s": t.p50_s,
            "p99_s": t.p99_s,
            "requests": t.requests,
            "errors": t.errors,
        }
        for t in ticks[step - 1 :: step]
    ]
