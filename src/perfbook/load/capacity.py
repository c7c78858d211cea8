"""Capacity search: the highest offered rate (open loop) that still meets the SLO.

:func:`search` is pure: it yields the next rate to try and is sent back whether that step met
the SLO (no clock, no sleeps, no I/O), so it is tested step by step. It doubles the rate until a
step misses, then bisects between the last pass and the first miss. :func:`run_capacity` drives
it with real load steps and stops at ``max_duration_s``.

A step counts as met only when the SLO was met *and* perfbook sent the rate it offered: a step
the client could not send (every one of ``--max-connections`` busy, or its own CPU) tested a
lower rate than its label, so it is a miss whose row and the outcome name the client's limit —
the knee found there is the client's, not the service's.
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
    """One step's row: offered and achieved rate, latency, error rate, the verdicts, and
    ``client_limit`` (why perfbook could not send the offered rate; None when it did)."""
    verdicts = judge(objectives, doc)
    rate = doc.get("rate") or {}
    client_limit = None if rate.get("kept", True) else rate.get("reason")
    return {
        "rate_rps": round(rate_rps, 1),
        "rps": doc["rps"],
        "requests": doc["requests"],
        "workers": doc["workers"],
        "error_rate": doc["error_rate"],
        "latency": doc["latency"],
        "met": all(v.met for v in verdicts) and client_limit is None,
        "missed": [v.objective.text() for v in verdicts if not v.met],
        "client_limit": client_limit,
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
            report.outcome = _client_said(report, _so_far(report, why))
            return report
        # start with enough connections for a fast service (one holds ~200 rps on schedule); more
        # open as latency asks, up to max_connections (a 100 ms service needs rate / 10)
        connections = max(base.plan.connections, -(-int(rate) // 200))
        plan = replace(
            base.plan,
            stages=(Stage(step_s, rate, rate),),
            requests=None,
            duration_s=None,
            connections=connections,
            max_connections=max(base.plan.max_connections, connections),
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
            report.outcome = _client_said(report, done.value)
            return report


def _so_far(report: CapacityReport, why: str) -> Outcome:
    """The outcome of a search ended early: the best step that passed and the lowest that missed."""
    passed = [s["rate_rps"] for s in report.steps if s["met"]]
    failed = [s["rate_rps"] for s in report.steps if not s["met"]]
    return Outcome(max(passed, default=None), min(failed, default=None), why)


def _client_said(report: CapacityReport, outcome: Outcome) -> Outcome:
    """The outcome, its reason extended when the step that bounds it was the client's limit.

    >>> rows = [{"rate_rps": 400.0, "met": False, "client_limit": "rate missed: target 400 rps"}]
    >>> said = _client_said(CapacityReport("t", [], rows), Outcome(200.0, 400.0, "knee between 200 and 400"))
    >>> said.reason.split("; ")[1][:60]
    'at 400 rps perfbook could not send the rate (rate missed: ta'
    """
    if outcome.failed_rps is None:
        return outcome
    limited = [
        s for s in report.steps if s["rate_rps"] == round(outcome.failed_rps, 1) and s.get("client_limit")
    ]
    if not limited:
        return outcome
    return replace(
        outcome,
        reason=f"{outcome.reason}; at {outcome.failed_rps:g} rps perfbook could not send the rate "
        f"({limited[0]['client_limit']}): the knee is perfbook's limit, not the service's: "
        "raise --max-connections, or --workers / --cluster",
    )
