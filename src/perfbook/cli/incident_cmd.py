"""``perfbook incident``: the incident record, its timeline and the runbook's checklist.

Each command body is parse → call :mod:`perfbook.incidents.records` → render → exit code; all
printing goes through :func:`perfbook.cli.incident_common.emit`. This module has the group and the
commands that read (open, list, show, checklist); :mod:`.incident_change_cmd` the ones that change.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.cli.exit import ExitCode
from perfbook.cli.incident_common import (
    ACTOR,
    ID_ARG,
    JSON,
    ONLY,
    SKIP,
    WINDOW,
    actor_of,
    emit,
    now,
    number_of,
    publish,
    show_doc,
    show_page,
    status_filter,
    store_for,
    triage_now,
)
from perfbook.errors import UsageError

HELP = """Keep the incident record: timeline, severity, status, and the runbook's checklist.

An incident has an id people type (INC-7), a severity P0–P3, a status (investigating →
identified → monitoring → resolved), an impact, an owner and a timeline. Evidence attaches
itself: run triage, fix --apply, load or capacity with --incident INC-7 (or PERFBOOK_INCIDENT),
and the checklist ticks the items that evidence proves, naming it. An update is due every
15 / 30 / 60 / 240 min at P0 / P1 / P2 / P3 ([incident] update_every_min).

Examples:

  perfbook incident open --triage                      # triage now; severity and title from it

  perfbook incident open --title "Checkout slow" --severity P1

  perfbook incident note INC-7 "index dropped by this morning's migration"

  perfbook triage --incident INC-7;  perfbook load URL -d 30s --slo kpi --incident INC-7

  perfbook incident check INC-7 "resolution plan" --note "add the index, then load-test"

  perfbook incident resolve INC-7 --verify

  perfbook incident list --overdue || echo "an update is overdue"
"""

app = typer.Typer(help=HELP, no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``perfbook incident`` (reading and changing commands) to the root app."""
    from perfbook.cli.incident_change_cmd import add_commands

    add_commands(app)
    root.add_typer(app, name="incident")


@app.command("open")
def open_command(
    title: str | None = typer.Option(
        None, "--title", "-t", help="What users see, in a few words (default: from the report's top cause)."
    ),
    severity: str = typer.Option("auto", "--severity", "-s", help="auto (from the report) or P0|P1|P2|P3."),
    impact: str | None = typer.Option(
        None, "--impact", help="none|minor|major|critical (default: from the severity)."
    ),
    run_triage: bool = typer.Option(False, "--triage", help="Run triage now and attach its report."),
    from_report: Path | None = typer.Option(
        None, "--from-report", dir_okay=False, help="Attach a saved triage --json report."
    ),
    window: str | None = WINDOW,
    only: str | None = ONLY,
    skip: str | None = SKIP,
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Open an incident, optionally with a triage report (run now, or saved) attached.

    Examples:

      perfbook incident open --triage

      perfbook incident open --from-report report.json --severity P1

      perfbook incident open --title "Search is slow" --severity P2 --as alice
    """
    from perfbook.fix.from_report import load_report
    from perfbook.incidents.figures import severity_from, title_from
    from perfbook.incidents.model import parse_impact, parse_severity
    from perfbook.incidents.views import build_change

    if run_triage and from_report:
        raise UsageError("--triage and --from-report both give the report: choose one")
    fixed = None if severity.lower() == "auto" else parse_severity(severity)
    chosen_impact = parse_impact(impact) if impact else None
    if title is not None and not title.strip():
        raise UsageError(
            "--title is empty", hint="give a few words, or leave --title out to take it from a report"
        )
    cfg = current().config(config)
    report = (
        load_report(from_report)
        if from_report
        else (triage_now(cfg, window, only, skip) if run_triage else None)
    )
    if title is None and report is None:
        raise UsageError(
            "an incident needs a title (--title), or a report to take it from (--triage / --from-report)"
        )
    store = store_for(cfg)
    try:
        from perfbook.incidents import records

        inc = records.open_incident(
            store,
            title=title or title_from(report),
            actor=actor_of(actor),
            report=report,
            severity=fixed or severity_from(report),
            impact=chosen_impact,
        )
        emit(as_json, show_doc(store, cfg, inc.number), lambda doc: build_change(doc, 0))
        publish(store, cfg)
    finally:
        store.close()


@app.command("list")
def list_command(
    all_: bool = typer.Option(False, "--all", help="Also resolved incidents."),
    status: list[str] = typer.Option(
        [], "--status", help="Only these statuses (repeatable, or comma-separated)."
    ),
    overdue: bool = typer.Option(
        False, "--overdue", help="Only incidents whose update is overdue; exit 3 when any is (for cron)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """List incidents, newest first: open ones by default; overdue updates are marked.

    Examples:

      perfbook incident list

      perfbook incident list --all --status resolved --json | jq '.incidents[].id'

      perfbook incident list --overdue            # exit 3 when an update is overdue
    """
    from perfbook.incidents import records
    from perfbook.incidents.model import Status
    from perfbook.incidents.views import build_list, incident_to_dict

    statuses = [status_filter(s) for raw in status for s in raw.split(",") if s.strip()]
    cfg = current().config(config)
    store = store_for(cfg)
    try:
        found = records.list_incidents(
            store, include_resolved=all_, statuses=statuses, limit=None if overdue else limit
        )
    finally:
        store.close()
    rows = [incident_to_dict(i, now(), cfg.incident.update_every_min) for i in found]
    if overdue:
        rows = [r for r in rows if r["overdue"] and r["status"] != Status.RESOLVED.value][:limit]
    emit(as_json, {"incidents": rows}, lambda doc: build_list(doc["incidents"]))
    if overdue and rows:
        raise typer.Exit(ExitCode.THRESHOLD)


@app.command("show")
def show_command(incident: str = ID_ARG, as_json: bool = JSON, config: Path | None = CONFIG_OPTION) -> None:
    """Show an incident: header, checklist (who or what ticked each item), timeline.

    Examples:

      perfbook incident show INC-7

      perfbook incident show INC-7 --json | jq '.checklist[] | select(.state == "done") | .text'
    """
    cfg = current().config(config)
    number = number_of(incident)
    store = store_for(cfg)
    try:
        emit(as_json, show_doc(store, cfg, number), lambda doc: show_page(store, doc))
    finally:
        store.close()


@app.command("checklist")
def checklist_command(
    incident: str = ID_ARG, as_json: bool = JSON, config: Path | None = CONFIG_OPTION
) -> None:
    """Show the runbook's checklist: what perfbook ticked from which evidence, what people ticked.

    Examples:

      perfbook incident checklist INC-7

      perfbook incident checklist INC-7 --json | jq '[.checklist[] | select(.state == "open") | .number]'
    """
    from perfbook.incidents import records
    from perfbook.incidents.views import build_checklist

    cfg, number = current().config(config), number_of(incident)
    store = store_for(cfg)
    try:
        records.get_incident(store, number)
        states = records.checklist_of(store, number)
    finally:
        store.close()
    emit(
        as_json,
        {"id": f"INC-{number}", "checklist": [s.to_dict() for s in states]},
        lambda doc: build_checklist(states),
    )
