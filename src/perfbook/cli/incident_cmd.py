"""``perfbook incident``: the incident record, its timeline and the runbook's checklist.

Each command body is parse → call :mod:`perfbook.incidents.records` → render → exit code; all
printing goes through :func:`_emit` (one JSON document with ``--json``, else a Rich page).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from perfbook.cli.common import CONFIG_OPTION, load, print_json, stderr_console, stdout_console
from perfbook.cli.exit import ExitCode
from perfbook.config import Config
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

INCIDENT_OPTION = typer.Option(
    None, "--incident", envvar="PERFBOOK_INCIDENT", metavar="ID",
    help="Attach the result to this open incident, e.g. INC-7: evidence on its timeline (env PERFBOOK_INCIDENT).",
)
JSON = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")
ACTOR = typer.Option(None, "--as", help="Who is acting (default: the OS user).")
WINDOW = typer.Option(None, "--window", "-w", help="Triage window, e.g. 2s (default \\[triage] window_s).")
ONLY = typer.Option(None, "--only", help="Triage only these probes, comma-separated (as perfbook triage --only).")
SKIP = typer.Option(None, "--skip", help="Triage without these probes, comma-separated (e.g. host on a shared machine).")
ID_ARG = typer.Argument(..., metavar="ID", help="Incident id, e.g. INC-7 (or 7).")

app = typer.Typer(help=HELP, no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``perfbook incident`` to the root app."""
    root.add_typer(app, name="incident")


@app.command("open")
def open_command(
    title: str | None = typer.Option(None, "--title", "-t", help="What users see, in a few words (default: from the report's top cause)."),
    severity: str = typer.Option("auto", "--severity", "-s", help="auto (from the report) or P0|P1|P2|P3."),
    impact: str | None = typer.Option(None, "--impact", help="none|minor|major|critical (default: from the severity)."),
    run_triage: bool = typer.Option(False, "--triage", help="Run triage now and attach its report."),
    from_report: Path | None = typer.Option(None, "--from-report", dir_okay=False, help="Attach a saved triage --json report."),
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
    from perfbook.incidents.model import parse_impact, parse_severity
    from perfbook.incidents.views import build_change

    if run_triage and from_report:
        raise UsageError("--triage and --from-report both give the report: choose one")
    fixed = None if severity.lower() == "auto" else parse_severity(severity)
    chosen_impact = parse_impact(impact) if impact else None
    if title is not None and not title.strip():
        raise UsageError("--title is empty", hint="give a few words, or leave --title out to take it from a report")
    cfg = load(config)
    report = load_report(from_report) if from_report else (_triage(cfg, window, only, skip) if run_triage else None)
    if title is None and report is None:
        raise UsageError("an incident needs a title (--title), or a report to take it from (--triage / --from-report)")
    store = _store(cfg)
    try:
        from perfbook.incidents import records

        inc = records.open_incident(store, title=title or _title_of(report), actor=_actor(actor), report=report,
                                    severity=fixed or _severity_of(report), impact=chosen_impact)
        _emit(as_json, _show_doc(store, cfg, inc.number), lambda doc: build_change(doc, 0))
    finally:
        store.close()


@app.command("list")
def list_command(
    all_: bool = typer.Option(False, "--all", help="Also resolved incidents."),
    status: list[str] = typer.Option([], "--status", help="Only these statuses (repeatable, or comma-separated)."),
    overdue: bool = typer.Option(False, "--overdue", help="Only incidents whose update is overdue; exit 3 when any is (for cron)."),
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

    statuses = [_status_filter(s) for raw in status for s in raw.split(",") if s.strip()]
    cfg = load(config)
    store = _store(cfg)
    try:
        found = records.list_incidents(store, include_resolved=all_, statuses=statuses,
                                       limit=None if overdue else limit)
    finally:
        store.close()
    rows = [incident_to_dict(i, _now(), cfg.incident.update_every_min) for i in found]
    if overdue:
        rows = [r for r in rows if r["overdue"] and r["status"] != Status.RESOLVED.value][:limit]
    _emit(as_json, {"incidents": rows}, lambda doc: build_list(doc["incidents"]))
    if overdue and rows:
        raise typer.Exit(ExitCode.THRESHOLD)


@app.command("show")
def show_command(incident: str = ID_ARG, as_json: bool = JSON, config: Path | None = CONFIG_OPTION) -> None:
    """Show an incident: header, checklist (who or what ticked each item), timeline.

    Examples:

      perfbook incident show INC-7

      perfbook incident show INC-7 --json | jq '.checklist[] | select(.state == "done") | .text'
    """
    cfg = load(config)
    number = _number(incident)
    store = _store(cfg)
    try:
        _emit(as_json, _show_doc(store, cfg, number), lambda doc: _show_page(store, doc))
    finally:
        store.close()


@app.command("note")
def note_command(
    incident: str = ID_ARG,
    text: str = typer.Argument(..., help="The note."),
    followup: bool = typer.Option(False, "--followup", help="A follow-up for after the incident (the postmortem lists them)."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Add a note to the timeline.

    Examples:

      perfbook incident note INC-7 "rolled back release 2026.12.1"

      perfbook incident note INC-7 "alert on dead tuples" --followup
    """
    from perfbook.incidents import records

    number = _number(incident)
    _change(config, as_json, number, lambda store: records.add_note(store, number, text, actor=_actor(actor),
                                                                      followup=followup))


@app.command("status")
def status_command(
    incident: str = ID_ARG,
    status: str = typer.Argument(..., metavar="STATUS", help="investigating|identified|monitoring."),
    message: str | None = typer.Option(None, "--message", "-m", help="What changed, for the timeline."),
    impact: str | None = typer.Option(None, "--impact", help="Also set the impact: none|minor|major|critical."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Move an open incident to another status (resolve has its own command).

    Examples:

      perfbook incident status INC-7 identified -m "missing index on users(email)"

      perfbook incident status INC-7 monitoring --impact minor
    """
    from perfbook.incidents import records
    from perfbook.incidents.model import parse_impact, parse_status

    number, new, chosen = _number(incident), parse_status(status), parse_impact(impact) if impact else None
    _change(config, as_json, number, lambda store: records.set_status(store, number, new, actor=_actor(actor),
                                                                        message=message, impact=chosen))


@app.command("severity")
def severity_command(
    incident: str = ID_ARG,
    severity: str = typer.Argument(..., metavar="SEVERITY", help="P0|P1|P2|P3."),
    reason: str | None = typer.Option(None, "--reason", help="Why, for the timeline."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Set the severity by hand (the change is recorded with the old value).

    Examples:

      perfbook incident severity INC-7 P1 --reason "checkout affected"
    """
    from perfbook.incidents import records
    from perfbook.incidents.model import parse_severity

    number, value = _number(incident), parse_severity(severity)
    _change(config, as_json, number, lambda store: records.set_severity(store, number, value, actor=_actor(actor),
                                                                          reason=reason))


@app.command("checklist")
def checklist_command(incident: str = ID_ARG, as_json: bool = JSON, config: Path | None = CONFIG_OPTION) -> None:
    """Show the runbook's checklist: what perfbook ticked from which evidence, what people ticked.

    Examples:

      perfbook incident checklist INC-7

      perfbook incident checklist INC-7 --json | jq '[.checklist[] | select(.state == "open") | .number]'
    """
    from perfbook.incidents import records
    from perfbook.incidents.views import build_checklist

    cfg, number = load(config), _number(incident)
    store = _store(cfg)
    try:
        records.get_incident(store, number)
        states = records.checklist_of(store, number)
    finally:
        store.close()
    _emit(as_json, {"id": f"INC-{number}", "checklist": [s.to_dict() for s in states]},
          lambda doc: build_checklist(states))


@app.command("check")
def check_command(
    incident: str = ID_ARG,
    item: str = typer.Argument(..., metavar="ITEM", help="Item number (1–20) or unambiguous words of it."),
    na: bool = typer.Option(False, "--na", help="Mark it not applicable instead of done."),
    undo: bool = typer.Option(False, "--undo", help="Take back a person's mark (evidence ticks stay)."),
    note: str | None = typer.Option(None, "--note", help="Why, or what was done."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Tick a checklist item by hand, or mark it n/a.

    Examples:

      perfbook incident check INC-7 5 --note "index, then load test"

      perfbook incident check INC-7 "user experience" --na --note "no UI behind this API"
    """
    from perfbook.incidents import records
    from perfbook.incidents.checklist import find_item

    if na and undo:
        raise UsageError("--na and --undo: choose one")
    number, which = _number(incident), find_item(item)
    state = "open" if undo else ("na" if na else "done")
    _change(config, as_json, number, lambda store: records.mark_item(store, number, which, state,
                                                                       actor=_actor(actor), note=note))


@app.command("resolve")
def resolve_command(
    incident: str = ID_ARG,
    verify: bool = typer.Option(False, "--verify", help="Triage first (attached) and refuse while a KPI still fails."),
    force: bool = typer.Option(False, "--force", help="With --verify: resolve even when KPIs still fail."),
    message: str | None = typer.Option(None, "--message", "-m", help="What resolved it, for the timeline."),
    window: str | None = WINDOW,
    only: str | None = ONLY,
    skip: str | None = SKIP,
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Resolve an incident; with --verify, only when a fresh triage shows the KPIs within target.

    Exit 3 when --verify refuses (the KPIs that still fail are named).

    Examples:

      perfbook incident resolve INC-7 --verify

      perfbook incident resolve INC-7 -m "index restored" --verify --force

      perfbook incident resolve INC-7 --verify --skip host    # a shared machine's CPU is not the incident's
    """
    from perfbook.incidents import attach, records
    from perfbook.incidents.figures import failing_kpis
    from perfbook.incidents.model import VerifyFailed

    cfg, number, who = load(config), _number(incident), _actor(actor)
    store = _store(cfg)
    try:
        inc = records.get_incident(store, number)
        if inc.resolved_at:
            raise UsageError(f"{inc.id} is already resolved (at {inc.resolved_at})")
    finally:
        store.close()
    failing: list[str] = []
    if verify:
        report = _triage(cfg, window, only, skip)
        for line in attach.record(cfg, number, "triage", report, actor=who):
            stderr_console().print(line, highlight=False, soft_wrap=True)
        failing = failing_kpis(report, cfg.thresholds.model_dump(), min_requests=cfg.http.min_window_requests)
        if failing and not force:
            _emit(as_json, {"id": inc.id, "resolved": False, "failing": failing}, lambda doc: "")
            raise VerifyFailed(f"{inc.id} not resolved: still failing: {'; '.join(failing)}",
                               hint="fix and verify again, or resolve anyway with --force")
    text = message or ("verified: KPIs within target" if verify and not failing else None)
    if failing:
        text = (text + "; " if text else "") + f"forced with failing: {'; '.join(failing)}"
    _change(cfg, as_json, number, lambda store: records.resolve(store, number, actor=who, message=text))


@app.command("reopen")
def reopen_command(
    incident: str = ID_ARG,
    reason: str | None = typer.Option(None, "--reason", help="Why, for the timeline."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Reopen a resolved incident (back to investigating).

    Examples:

      perfbook incident reopen INC-7 --reason "p95 back over 2 s"
    """
    from perfbook.incidents import records

    number = _number(incident)
    _change(config, as_json, number, lambda store: records.reopen(store, number, actor=_actor(actor), reason=reason))


# -- helpers: the only place this module prints ------------------------------------------------


def _emit(as_json: bool, doc: dict[str, Any], page: Any) -> None:
    """One JSON document, or the page ``page(doc)`` builds, on stdout."""
    if as_json:
        print_json(doc)
        return
    renderable = page(doc)
    if renderable != "":
        stdout_console().print(renderable, highlight=False)


def _change(config: Path | Config | None, as_json: bool, number: int, fn: Any) -> None:
    """Run one change against the store; show the incident (JSON) or the header and the new events."""
    from perfbook.incidents import records
    from perfbook.incidents.views import build_change

    cfg = config if isinstance(config, Config) else load(config)
    store = _store(cfg)
    try:
        last = max((e.id for e in records.timeline(store, number)), default=0)
        fn(store)
        _emit(as_json, _show_doc(store, cfg, number), lambda doc: build_change(doc, last))
    finally:
        store.close()


def _show_doc(store: Any, cfg: Config, number: int) -> dict[str, Any]:
    from perfbook.incidents import records
    from perfbook.incidents.views import artifact_to_dict, event_to_dict, incident_to_dict

    inc = records.get_incident(store, number)
    return {"incident": incident_to_dict(inc, _now(), cfg.incident.update_every_min),
            "checklist": [s.to_dict() for s in records.checklist_of(store, number)],
            "timeline": [event_to_dict(e) for e in records.timeline(store, number)],
            "artifacts": [artifact_to_dict(a) for a in records.artifacts_of(store, number)]}


def _show_page(store: Any, doc: dict[str, Any]) -> Any:
    from perfbook.incidents import records
    from perfbook.incidents.views import build_show

    number = doc["incident"]["number"]
    return build_show(doc, records.checklist_of(store, number), records.timeline(store, number))


def _store(cfg: Config) -> Any:
    from perfbook.store import open_store

    return open_store(cfg)


def _number(ref: str) -> int:
    from perfbook.incidents.model import parse_id

    return parse_id(ref)


def _actor(name: str | None) -> str:
    from perfbook.incidents.attach import os_user

    if name is not None and not name.strip():
        raise UsageError("--as is empty")
    return name.strip() if name else os_user()


def _status_filter(text: str) -> Any:
    from perfbook.incidents.model import Status

    try:
        return Status(text.strip().lower())
    except ValueError:
        raise UsageError(f"--status must be one of {', '.join(s.value for s in Status)}, got {text!r}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _triage(cfg: Config, window: str | None, only: str | None, skip: str | None) -> dict[str, Any]:
    """Run triage now (a status line on a terminal's stderr) and return its report as the JSON contract."""
    from perfbook.report.json import report_to_dict
    from perfbook.triage import parse_probe_list, triage
    from perfbook.units import parse_duration

    probes = {"only": parse_probe_list(only, "--only"), "skip": parse_probe_list(skip, "--skip") or []}
    try:
        window_s = parse_duration(window) if window else None
    except ValueError as err:
        raise UsageError(f"--window: {err}") from None
    if window_s is not None and not 0 < window_s <= 3600:
        raise UsageError(f"--window must be between 0 and 1h, got {window}")
    err = stderr_console()
    if not err.is_terminal:
        return report_to_dict(triage(cfg, window_s=window_s, **probes))
    with err.status("triage: probing…"):
        return report_to_dict(triage(cfg, window_s=window_s, **probes))


def _title_of(report: dict[str, Any] | None) -> str:
    from perfbook.incidents.figures import short_cause

    causes = (report or {}).get("causes") or []
    if causes and causes[0].get("summary"):
        return short_cause(causes[0]["summary"])
    return (report or {}).get("severity_reason") or "Performance issue"


def _severity_of(report: dict[str, Any] | None) -> str | None:
    severity = (report or {}).get("severity")
    return severity if severity in ("P0", "P1", "P2", "P3") else None
