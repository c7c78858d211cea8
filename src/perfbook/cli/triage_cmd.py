"""``perfbook triage`` and ``perfbook probe LAYER``: diagnose the stack now."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from perfbook.cli.env import CONFIG_OPTION, Env, current
from perfbook.cli.exit import ExitCode
from perfbook.cli.incident_common import INCIDENT_OPTION, attach_and_publish
from perfbook.errors import UsageError
from perfbook.incidents import attach
from perfbook.model import Evidence, Level, Report
from perfbook.probes import probe_names
from perfbook.report.evidence import build_evidence
from perfbook.report.html import report_to_html
from perfbook.report.json import probe_to_dict, report_to_dict
from perfbook.report.markdown import report_to_markdown
from perfbook.report.terminal import build_findings, build_probe_table, print_report
from perfbook.report.text import waiting_line
from perfbook.severity import at_or_above_cut
from perfbook.triage import parse_probe_list, triage
from perfbook.units import parse_duration_s

FAIL_ON = ("P3", "P2", "P1", "P0", "critical", "warning", "never")

TRIAGE_HELP = """Diagnose the stack now: severity, evidence, likely causes, safe fixes.

Every layer (HTTP, metrics, host, processes, containers, PostgreSQL, Redis, WebSocket,
frontend) is probed concurrently over one window; rates are window deltas, never lifetime
counters. Exit 0 below the --fail-on cut, 3 at or above it, 2 on a usage/config error; the
default cut (P2) also fails on any critical finding, even when p95 and the 5xx share are fine.

Examples:

  perfbook triage

  perfbook triage --window 5s --skip containers

  perfbook triage --only postgres,redis --json | jq '.findings[].code'

  perfbook triage --markdown incident.md --fail-on never

  perfbook triage --html triage.html      # one self-contained page to attach to a ticket
"""


def exit_code_for(report: Report, fail_on: str) -> ExitCode:
    """0 below the cut, 3 at or above it (see :func:`perfbook.severity.at_or_above_cut`)."""
    return ExitCode.THRESHOLD if at_or_above_cut(report.severity, report.findings, fail_on) else ExitCode.OK


def _window(text: str | None) -> float | None:
    return None if text is None else parse_duration_s(text, "--window", max_s=3600)


def _overrides(url: str | None) -> dict[str, tuple[Any, str]]:
    return {"http.base_url": (url, "--url")} if url else {}


def triage_command(
    config: Path | None = CONFIG_OPTION,
    window: str | None = typer.Option(
        None,
        "--window",
        "-w",
        help="Sampling window for rates, e.g. 2s, 500ms (default \\[triage] window_s = 2s).",
    ),
    only: str | None = typer.Option(
        None, "--only", help=f"Run only these probes, comma-separated: {', '.join(probe_names())}."
    ),
    skip: str | None = typer.Option(None, "--skip", help="Skip these probes, comma-separated."),
    url: str | None = typer.Option(
        None, "--url", help="Backend base URL (overrides \\[http] base_url / PERFBOOK_HTTP_BASE_URL)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print exactly one JSON document (the report contract) on stdout."
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", dir_okay=False, help="Also write the report as Markdown to FILE."
    ),
    html: Path | None = typer.Option(
        None,
        "--html",
        dir_okay=False,
        help="Also write the report as one self-contained HTML page to FILE (for a ticket or a mail).",
    ),
    fail_on: str = typer.Option(
        "P2",
        "--fail-on",
        help="Exit 3 at or above: P3|P2|P1|P0|critical|warning|never. P2 and P3 also fail on any critical finding.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show evidence in full."),
    incident: str | None = INCIDENT_OPTION,
) -> None:
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {'|'.join(FAIL_ON)}, got {fail_on!r}")
    env = current()
    for path, flag in ((markdown, "--markdown"), (html, "--html")):
        if path is not None:
            env.check_output(path, flag)  # before the probes run, not after
    cfg = env.config(config, _overrides(url))
    only_list = parse_probe_list(only, "--only")
    skip_list = parse_probe_list(skip, "--skip") or []
    number = attach.incident_number(incident)
    attach.check_open(cfg, number)
    report = _run_with_progress(env, cfg, _window(window), only_list, skip_list)
    attach_and_publish(cfg, number, "triage", report_to_dict(report))
    if markdown is not None:
        env.write(markdown, report_to_markdown(report, cfg.thresholds), what="--markdown")
    if html is not None:
        env.write(
            html,
            report_to_html(report, cfg.thresholds, templates_dir=cfg.notify.templates_dir),
            what="--html",
        )
    if as_json:
        env.json(report_to_dict(report))
    else:
        print_report(report, cfg.thresholds, env.out, verbose)
    raise typer.Exit(exit_code_for(report, fail_on))


def probe_command(
    layer: str = typer.Argument(..., help=f"One of: {', '.join(probe_names())}."),
    config: Path | None = CONFIG_OPTION,
    window: str | None = typer.Option(None, "--window", "-w", help="Sampling window, e.g. 2s."),
    url: str | None = typer.Option(None, "--url", help="Backend base URL (overrides \\[http] base_url)."),
    as_json: bool = typer.Option(False, "--json", help="Print the probe's evidence and findings as JSON."),
) -> None:
    """Run one layer's probe and show its evidence in full, with that layer's findings.

    Examples:

      perfbook probe host

      perfbook probe postgres --json | jq .evidence
    """
    env = current()
    names = parse_probe_list(layer, "LAYER") or []
    cfg = env.config(config, _overrides(url))
    report = _run_with_progress(env, cfg, _window(window), names, [])
    ev = report.probes[names[0]]
    if as_json:
        doc = {"probe": names[0], **probe_to_dict(ev), "findings": report_to_dict(report)["findings"]}
        env.json(doc)
    else:
        _print_probe(env, ev, report)
    failed = ev.status in ("unavailable", "error")
    raise typer.Exit(
        ExitCode.THRESHOLD
        if failed or any(f.level is Level.CRITICAL for f in report.findings)
        else ExitCode.OK
    )


def _print_probe(env: Env, ev: Evidence, report: Report) -> None:
    console = env.out
    console.print(build_probe_table({ev.probe: ev}))
    custom = _custom_table(ev)
    if custom is not None:
        console.print(custom)
    elif ev.data is not None:
        console.print(build_evidence(ev.data, ev.probe))
    console.print(build_findings(report.findings, verbose=True))


def _custom_table(ev: Evidence):
    """A layer's own table where it has one (e.g. containers: the runbook's docker stats table)."""
    if ev.data is None:
        return None
    try:
        import importlib

        module = importlib.import_module(f"perfbook.report.{ev.probe}")
    except ModuleNotFoundError:
        return None
    builder = getattr(module, "build_table", None)
    return builder(ev) if builder else None


def _run_with_progress(
    env: Env, cfg, window_s: float | None, only: list[str] | None, skip: list[str]
) -> Report:
    if not env.interactive:
        return triage(cfg, window_s=window_s, only=only, skip=skip)
    waiting = Waiting()
    with env.err.status(waiting):
        return triage(
            cfg,
            window_s=window_s,
            only=only,
            skip=skip,
            on_probe_done=waiting.done,
            on_probe_start=waiting.start,
        )


class Waiting:
    """The spinner's text, drawn afresh at every refresh: which probes still run and how much of
    their budget is left (``triage: waiting for postgres (3.2 s left), redis … — 5 of 8 probes done``).

        w = Waiting(clock=lambda: 10.0)
        w.start("redis", 5.0); str(w)   # 'triage: waiting for redis (5.0 s left) — 0 of 1 probes done'
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.deadlines: dict[str, float] = {}
        self.finished = 0

    def start(self, name: str, budget_s: float) -> None:
        self.deadlines[name] = self.clock() + budget_s

    def done(self, name: str, ev: Evidence) -> None:
        self.deadlines.pop(name, None)
        self.finished += 1

    def __str__(self) -> str:
        now = self.clock()
        running = {n: d - now for n, d in dict(self.deadlines).items()}
        return waiting_line(running, self.finished, self.finished + len(running))

    def __rich__(self) -> Text:
        return Text(str(self))


def register(app: typer.Typer) -> None:
    """Add ``triage`` and ``probe`` to the root app."""
    app.command("triage", help=TRIAGE_HELP)(triage_command)
    app.command("probe")(probe_command)
