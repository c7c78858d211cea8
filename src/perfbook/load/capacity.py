"""Capacity search: the highest offered rate (open loop) that still meets the SLO.

:func:`search` is pure: it yields the next rate to try and is sent back whether that step met
the SLO (no clock, no sleeps, no I/O), so it is tested step by step. It doubles the rate until a
step misses, then bisects between the last pass and the first miss. :func:`run_capacity` drives
it with real load steps and stops at ``max_duration_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any

from perfbook.interrupts import StopFlag
from perfbook.load.result import SCHEMA_VERSION, LoadResult
from perfbook.load.runner import LoadRun, run_load
from perfbook.load.schedule import Stage
from perfbook.load.slo import Objective, judge


@dataclass(frozen=True)
class Outcome:
    """Where the search ended: the knee (highest passing rate) and the lowest failing one."""

    knee_rps: float | None
    failed_rps: float | None
    reason: str


def search(
    start_rps: float, max_rps: float, growth: float = 2.0, tolerance: float = 0.05, max_steps: int = 20
) -> Generator[float, bool, Outcome]:
    """Yield rates to try; ``send(True)`` when a step met the SLO. Returns the :class:`Outcome`.

    >>> gen = search(100, 10_000); gen.send(None), gen.send(True), gen.send(False)
    (100, 200.0, 150.0)
    """
    passed: float | None = None
    failed: float | None = None
    rate = min(start_rps, max_rps)
    steps = 0
    while failed is None:  # ramp: multiply until a step misses or the cap is reached
        steps += 1
        if (yield rate):
            passed = rate
            if rate >= max_rps:
                return Outcome(passed, None, f"met the SLO up to --max-rate {max_rps:g} rps")
            if steps >= max_steps:
                return Outcome(passed, None, "step limit reached while ramping")
            rate = min(rate * growth, max_rps)
        else:
            failed = rate
    if passed is None:
        return Outcome(None, failed, f"missed the SLO already at {failed:g} rps")
    while (failed - passed) / passed > tolerance and steps < max_steps:  # bisect
        steps += 1
        mid = (passed + failed) / 2
        if (yield mid):
            passed = mid
        else:
            failed = mid
    return Outcome(passed, failed, f"knee between {passed:,.0f} and {failed:,.0f} rps")


@dataclass
class CapacityReport:
    """Each step's figures and the outcome (the ``perfbook capacity --json`` document)."""

    target: str
    objectives: list[Objective]
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome | None = None
    stop_signal: int | None = None  # SIGINT / SIGTERM that ended the search early

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "slo": [o.text() for o in self.objectives],
            "knee_rps": self.outcome.knee_rps if self.outcome else None,
            "failed_rps": self.outcome.failed_rps if self.outcome else None,
            "reason": self.outcome.reason if self.outcome else "no step ran",
            "steps": self.steps,
            "interrupted": self.stop_signal is not None,
        }


def step_figures(rate_rps: float, doc: dict[str, Any], objectives: list[Objective]) -> dict[str, Any]:
    """One step's row: offered and achieved rate, latency, error rate, the verdicts."""
    verdicts = judge(objectives, doc)
    return {
        "rate_rps": round(rate_rps, 1),
        "rps": doc["rps"],
        "requests": doc["requests"],
        "workers": doc["workers"],
        "error_rate": doc["error_rate"],
        "latency": doc["latency"],
        "met": all(v.met for v in verdicts),
        "missed": [v.objective.text() for v in verdicts if not v.met],
    }


def run_capacity(
    base: LoadRun,
    objectives: list[Objective],
    *,
    start_rps: float,
    max_rps: float,
    step_s: float,
    max_duration_s: float,
    tolerance: float = 0.05,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    on_step_start: Callable[[int, float, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    runner: Callable[[LoadRun], LoadResult] | None = None,
    stop: StopFlag | None = None,
) -> CapacityReport:
    """Drive :func:`search` with open-loop steps of ``step_s`` each, within ``max_duration_s``.

    ``runner`` runs one step: this machine's processes (default), or a cluster's workers.
    ``on_step_start(number, rate_rps, step_s)`` is called as each step starts (for progress).
    ``stop`` set (SIGINT / SIGTERM, caught by the caller) ends the search at once: the step that
    was running is cut and left out, and the report says where the search stood.
    """
    report = CapacityReport(base.target, objectives)
    stop = stop if stop is not None else StopFlag()
    gen = search(start_rps, max_rps, tolerance=tolerance)
    started = clock()
    rate = next(gen)
    while True:
        if stop or clock() - started + step_s > max_duration_s:
            report.stop_signal = stop.signum
            why = "interrupted" if stop else f"stopped by --max-duration {max_duration_s:g}s"
            report.outcome = _so_far(report, why)
            return report
        # enough connections for the step's rate: a connection holds ~200 rps on schedule
        connections = max(base.plan.connections, -(-int(rate) // 200))
        plan = replace(
            base.plan,
            stages=(Stage(step_s, rate, rate),),
            requests=None,
            duration_s=None,
            connections=connections,
        )
        step = replace(base, plan=plan)
        if on_step_start is not None:
            on_step_start(len(report.steps) + 1, rate, step_s)
        result = runner(step) if runner is not None else run_load(step, stop)
        if result.interrupted or stop:  # a cut step judges nothing
            continue
        doc = result.to_json()
        row = step_figures(rate, doc, objectives)
        report.steps.append(row)
        if on_step is not None:
            on_step(row)
        try:
            rate = gen.send(row["met"])
        except StopIteration as done:
            report.outcome = done.value
            return report


def _so_far(report: CapacityReport, why: str) -> Outcome:
    """The outcome of a search ended early: the best step that passed and the lowest that missed."""
    passed = [s["rate_rps"] for s in report.steps if s["met"]]
    failed = [s["rate_rps"] for s in report.steps if not s["met"]]
    return Outcome(max(passed, default=None), min(failed, default=None), why)
