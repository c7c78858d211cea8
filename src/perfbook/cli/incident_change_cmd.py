"""``perfbook incident note|status|severity|check|resolve|reopen``: the commands that change an incident."""

from __future__ import annotations

from pathlib import Path

import typer

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.cli.incident_common import (
    ACTOR,
    ID_ARG,
    JSON,
    ONLY,
    SKIP,
    WINDOW,
    actor_of,
    attach_and_publish,
    change,
    emit,
    number_of,
    store_for,
    triage_now,
)
from perfbook.errors import UsageError

app = typer.Typer()  # collects the commands; add_commands() puts them on the incident group


def add_commands(group: typer.Typer) -> None:
    """Register this module's commands on the ``incident`` group."""
    group.registered_commands += app.registered_commands


@app.command("note")
def note_command(
    incident: str = ID_ARG,
    text: str = typer.Argument(..., help="The note."),
    followup: bool = typer.Option(
        False, "--followup", help="A follow-up for after the incident (the postmortem lists them)."
    ),
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

    number = number_of(incident)
    change(
        config,
        as_json,
        number,
        lambda store: records.add_note(store, number, text, actor=actor_of(actor), followup=followup),
    )


@app.command("status")
def status_command(
    incident: str = ID_ARG,
    status: str = typer.Argument(..., metavar="STATUS", help="investigating|identified|monitoring."),
    message: str | None = typer.Option(None, "--message", "-m", help="What changed, for the timeline."),
    impact: str | None = typer.Option(
        None, "--impact", help="Also set the impact: none|minor|major|critical."
    ),
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

    number, new, chosen = number_of(incident), parse_status(status), parse_impact(impact) if impact else None
    change(
        config,
        as_json,
        number,
        lambda store: records.set_status(
            store, number, new, actor=actor_of(actor), message=message, impact=chosen
        ),
    )


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

    number, value = number_of(incident), parse_severity(severity)
    change(
        config,
        as_json,
        number,
        lambda store: records.set_severity(store, number, value, actor=actor_of(actor), reason=reason),
    )


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
    number, which = number_of(incident), find_item(item)
    state = "open" if undo else ("na" if na else "done")
    change(
        config,
        as_json,
        number,
        lambda store: records.mark_item(store, number, which, state, actor=actor_of(actor), note=note),
    )


@app.command("resolve")
def resolve_command(
    incident: str = ID_ARG,
    verify: bool = typer.Option(
        False, "--verify", help="Triage first (attached) and refuse while a KPI still fails."
    ),
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
    from perfbook.incidents import records
    from perfbook.incidents.figures import failing_kpis
    from perfbook.incidents.model import VerifyFailed

    env = current()
    cfg, number, who = env.config(config), number_of(incident), actor_of(actor)
    store = store_for(cfg)
    try:
        inc = records.get_incident(store, number)
        if inc.resolved_at:
            raise UsageError(f"{inc.id} is already resolved (at {inc.resolved_at})")
    finally:
        store.close()
    failing: list[str] = []
    if verify:
        report = triage_now(cfg, window, only, skip)
        attach_and_publish(cfg, number, "triage", report, actor=who)
        failing = failing_kpis(report, cfg.thresholds.model_dump(), min_requests=cfg.http.min_window_requests)
        if failing and not force:
            emit(as_json, {"id": inc.id, "resolved": False, "failing": failing}, lambda doc: "")
            raise VerifyFailed(
                f"{inc.id} not resolved: still failing: {'; '.join(failing)}",
                hint="fix and verify again, or resolve anyway with --force",
            )
    text = message or ("verified: KPIs within target" if verify and not failing else None)
    if failing:
        text = (text + "; " if text else "") + f"forced with failing: {'; '.join(failing)}"
    change(cfg, as_json, number, lambda store: records.resolve(store, number, actor=who, message=text))


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

    number = number_of(incident)
    change(
        config,
        as_json,
        number,
        lambda store: records.reopen(store, number, actor=actor_of(actor), reason=reason),
    )
