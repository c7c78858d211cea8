"""One ``perfbook load`` run from the user's side: watch, run, judge. Returns; ``cli/`` prints and exits.

    outcome = run_session(run, objectives, watch_patterns=None, progress=live)
    outcome.doc          # the --json document (result, "watch", "slo")
    outcome.missed       # an SLO missed or the run aborted (exit 3 in the CLI)
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
    interrupted: bool  # Ctrl-C ended it
    missed: bool  # aborted (error spike) or an objective not met
    partial: bool = False  # a cluster run that lost a worker: its share is missing from the figures


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
    with watcher as w:
        if progress is not None:
            run.progress = progress
        result = runner(run)
    doc: dict[str, Any] = result.to_json()
    if watch_patterns is not None:
        doc["watch"] = w.summary()
    verdicts = judge(objectives, doc)
    doc["slo"] = [v.to_json() for v in verdicts] if objectives else None
    missed = bool(result.aborted) or any(not v.met for v in verdicts)
    return SessionOutcome(doc, verdicts, result.interrupted, missed, bool(getattr(result, "partial", False)))
