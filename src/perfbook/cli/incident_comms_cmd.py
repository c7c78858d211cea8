"""``perfbook incident notify`` and ``perfbook incident report``: the incident's messages and its postmortem.

These two commands join the ``incident`` group (``cli/incident_cmd.py``); this module only adds
them, so the group's own module and this one change independently.
"""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from perfbook.cli.env import CONFIG_OPTION, Env, current
from perfbook.cli.exit import ExitCode
from perfbook.errors import UsageError

NOTIFY_HELP = """Write the incident's message for EVENT from its record and send it on every channel, once.

EVENT is detected, update, resolved (internal: \\[notify.email] and \\[notify] urls; external:
\\[notify] external_urls and the status page), or customer (the customer notice, external only).
Internal messages carry severity, status, impact, endpoints, KPIs against target, causes, fixes
with before / after, who is in charge, when the next update is due and commands to see more;
external ones say what users experience in plain words and are refused if they name a table,
query, host, IP, pid, DSN or finding code. A send is never repeated for the same event
(idempotency key in the store), also when the command runs twice; a failing channel is retried
(\\[notify] attempts, backoff_s), reported, and does not stop the others. Each send is a message
event on the timeline. Exit 0 when every channel delivered (or had already), 1 when one failed.

Examples:

  perfbook incident notify INC-7 detected --dry-run

  perfbook incident notify INC-7 update --message "Rolling back the 10:00 deploy."

  perfbook incident notify INC-7 resolved --json | jq '.deliveries[] | {channel, outcome}'

  perfbook incident notify INC-7 customer
"""

REPORT_HELP = """Write the incident's postmortem: Markdown, or one self-contained HTML file.

Summary, impact (duration, severity over time, affected endpoints, requests affected where the
app's metrics tell), the whole timeline, root causes with their evidence, fixes with before /
after, load results, KPIs over the incident as plots (the plot extra), the checklist, and
follow-ups (notes marked --followup, items still open). The HTML has inline CSS and the plot
embedded: it can be mailed or attached as it is.

Examples:

  perfbook incident report INC-7 --format md > INC-7.md

  perfbook incident report INC-7 --format html -o INC-7.html
"""


def notify_command(
    incident: str = typer.Argument(..., metavar="ID", help="Incident id, e.g. INC-7 (or 7)."),
    event: str = typer.Argument(..., metavar="EVENT", help="detected | update | resolved | customer."),
    message: str | None = typer.Option(
        None, "--message", "-m", help="Words of a person to add to the message (also external: plain words)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the messages and where they would go; send and record nothing."
    ),
    internal_only: bool = typer.Option(
        False,
        "--internal-only",
        help="Send only to internal channels (e.g. a --message that names internals).",
    ),
    actor: str | None = typer.Option(None, "--as", help="Who is sending (default: the OS user)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print exactly one JSON document: the messages and each delivery."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    from perfbook.incidents.model import parse_id
    from perfbook.notify.send import EVENTS, notify
    from perfbook.store import open_store

    if event not in EVENTS:
        raise UsageError(f"EVENT must be one of {', '.join(EVENTS)}, got {event!r}")
    number = parse_id(incident)
    env = current()
    cfg = env.config(config)
    store = open_store(cfg, env.environ)
    try:
        result = notify(
            store,
            cfg,
            number,
            event,
            actor=actor or _os_user(),
            message=message,
            dry_run=dry_run,
            internal_only=internal_only,
            env=env.environ,
        )
    finally:
        store.close()
    if as_json:
        env.json(result.to_dict())
    else:
        _print_notify(env, result)
    raise typer.Exit(ExitCode.FAILED if result.failed else ExitCode.OK)


def report_command(
    incident: str = typer.Argument(..., metavar="ID", help="Incident id, e.g. INC-7 (or 7)."),
    fmt: str = typer.Option("md", "--format", "-f", help="md | html."),
    out: Path | None = typer.Option(
        None, "--output", "-o", dir_okay=False, help="Write to FILE (atomically) instead of stdout."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON document: the incident, format, file and (without -o) the text."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    from perfbook.incidents.model import parse_id
    from perfbook.notify.context import load_state
    from perfbook.report.postmortem import FORMATS, render_postmortem
    from perfbook.store import open_store

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {'|'.join(FORMATS)}, got {fmt!r}")
    number = parse_id(incident)
    env = current()
    if out is not None:
        env.check_output(out, "--output")  # before any work
    cfg = env.config(config)
    store = open_store(cfg, env.environ)
    try:
        state = load_state(store, number)
    finally:
        store.close()
    text = render_postmortem(state, cfg, fmt, now=dt.datetime.now(dt.UTC))
    if out is not None:
        env.write(out, text, what="postmortem")
        if not as_json:
            env.echo(f"wrote {out} ({len(text.encode()):,} bytes)", err=True)
    if as_json:
        env.json(
            {
                "incident": state.incident.id,
                "format": fmt,
                "output": str(out) if out else None,
                "events": len(state.events),
                "text": None if out else text,
            }
        )
    elif out is None:
        env.stdout.write(text)


def _print_notify(env: Env, result: Any) -> None:
    console = env.out
    for audience, msg in result.messages.items():
        console.rule(Text(f"{audience}: {msg.subject}", style="bold"), align="left")
        console.print(Text(msg.body.rstrip()), soft_wrap=True)
    table = Table(
        title="dry run: nothing sent" if result.dry_run else "deliveries",
        title_justify="left",
        show_edge=False,
    )
    for col in ("channel", "audience", "recipients", "outcome", "attempts", "error"):
        table.add_column(col)
    for d in result.deliveries:
        style = {"sent": "green", "failed": "bold red", "already_sent": "dim"}.get(d.outcome, "")
        table.add_row(
            d.channel,
            d.audience,
            Text(", ".join(d.recipients)),
            Text(d.outcome, style=style),
            str(d.attempts or ""),
            Text(d.error or ""),
        )
    console.print(table)
    if result.status_page:
        env.echo(f"status page rebuilt in {Path(result.status_page[0]).parent}", err=True)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def register(root: typer.Typer) -> None:
    """Add ``notify`` and ``report`` to the ``incident`` group: register ``incident_cmd`` before this module.

    In a tree without the group (the incident commands not there yet) they get a group of their own.
    """
    group = next((g.typer_instance for g in root.registered_groups if g.name == "incident"), None)
    if group is None:
        group = typer.Typer(
            help="Keep the incident record: timeline, status, checklist, messages, postmortem.",
            no_args_is_help=True,
        )
        root.add_typer(group, name="incident")
    group.command("notify", help=NOTIFY_HELP)(notify_command)
    group.command("report", help=REPORT_HELP)(report_command)
