"""One ``perfbook load`` run from the user's side: SLO, progress, watch, run, judge, print, exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from perfbook.cli.exit import ExitCode
from perfbook.load.render import LiveProgress, print_summary
from perfbook.load.runner import LoadRun, run_load
from perfbook.load.slo import Objective, judge, parse_slo


def objectives_for(slo: str | None, config_path: Path | None) -> list[Objective]:
    """Parse ``--slo``; the word ``kpi`` reads the thresholds from config (only then)."""
    if not slo:
        return []
    kpi = None
    if "kpi" in slo.split(","):
        from perfbook.config import load_config

        th = load_config(config_path).thresholds
        kpi = (th.p95_s, th.error_rate, th.throughput_rps)
    return parse_slo(slo, kpi)


def process_patterns(config_path: Path | None) -> list[str]:
    """The ``[process] match`` patterns for --watch."""
    from perfbook.config import load_config

    return list(load_config(config_path).process.match)


def run_session(
    run: LoadRun,
    *,
    slo: str | None = None,
    watch: bool = False,
    json_out: bool = False,
    output: Path | None = None,
    config_path: Path | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Run, print (table or JSON) and return the exit code: 3 for a missed SLO or an abort, 130 interrupted."""
    objectives = objectives_for(slo, config_path)
    from perfbook.load.watch import ResourceWatch

    watcher = ResourceWatch(process_patterns(config_path)) if watch else nullcontext()
    planned_s = run.plan.duration_s or (sum(s.duration_s for s in run.plan.stages) or None)
    with LiveProgress(planned_s=planned_s, planned_n=run.plan.requests) as live, watcher as w:
        run.progress = live
        result = run_load(run)
    doc: dict[str, Any] = result.to_json()
    if watch:
        doc["watch"] = w.summary()
    verdicts = judge(objectives, doc)
    doc["slo"] = [v.to_json() for v in verdicts] if objectives else None
    if on_result is not None:  # e.g. attach the run to an incident (--incident)
        on_result(doc)
    if output is not None:
        output.write_text(json.dumps(doc, indent=2) + "\n")
    if json_out:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print_summary(doc, verdicts)
    if result.interrupted:
        return ExitCode.INTERRUPTED
    if result.aborted or any(not v.met for v in verdicts):
        return ExitCode.THRESHOLD
    return ExitCode.OK
