"""``perfbook alerts list`` and ``perfbook alerts silence add | list | expire``: what watch keeps in the store."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.errors import UsageError

silence_app = typer.Typer(
    help="""Silences: hold back an alert's notifications for a while (it still changes state).

A silence matches a rule and, optionally, one subject, as Alertmanager's matchers do
(alertname=RULE or rule=RULE, subject=S; equality only). It ends at its end time, or when expired.
""",
    no_args_is_help=True,
)


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_matchers(matchers: list[str]) -> tuple[str, str | None]:
    """``["alertname=HighResponseTime", "subject=/api"]`` (or a bare rule name) -> (rule, subject)."""
    rule: str | None = None
    subject: str | None = None
    for m in matchers:
        name, op, value = m.partition("=")
        if not op:
            name, value = "rule", m
        if name.endswith(("!", "~")) or value.startswith("~"):
            raise UsageError(
                f"matcher {m!r}: only equality (name=value) is supported",
                hint="e.g. alertname=HighResponseTime subject=/api/v1/users",
            )
        if name in ("rule", "alertname"):
            rule = value
        elif name == "subject":
            subject = value
        else:
            raise UsageError(
                f"matcher {m!r}: match on alertname (or rule) and subject",
                hint="e.g. alertname=HighResponseTime subject=/api/v1/users",
            )
    if not rule:
        raise UsageError("a silence needs a rule: alertname=RULE (see: perfbook alerts rules)")
    return rule, subject


@silence_app.command("add")
def silence_add(
    matchers: list[str] = typer.Argument(..., help="alertname=RULE (or just RULE) and optionally subject=S."),
    subject_flag: str | None = typer.Option(
        None, "--subject", "-s", help="Only this subject (the same as subject=S)."
    ),
    for_: str = typer.Option("1h", "--for", help="How long the silence lasts (e.g. 30m, 2h)."),
    comment: str = typer.Option("", "--comment", "-c", help="Why (shown in alerts silence list)."),
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the silence as one JSON document."),
) -> None:
    """Silence a rule (and subject) for a while.

    Examples:

      perfbook alerts silence add alertname=HighResponseTime subject=/api/v1/users --for 2h -c "deploy"

      perfbook alerts silence add HighCPUUsage --for 30m

      perfbook alerts silence add HighResponseTime --subject /api/v1/agents --for 1h
    """
    from perfbook.alerts.rules import effective_rules
    from perfbook.incidents.attach import os_user
    from perfbook.store import open_store
    from perfbook.units import parse_duration
    from perfbook.watch import records

    env = current()
    cfg = env.config(config)
    rule, subject = parse_matchers(matchers)
    subject = subject_flag if subject_flag is not None else subject
    names = [r.name for r in effective_rules(cfg)]
    if rule not in names:
        raise UsageError(
            f"no alert rule {rule!r} (rules: {', '.join(names)})", hint="see: perfbook alerts rules"
        )
    try:
        seconds = parse_duration(for_)
    except ValueError as err:
        raise UsageError(f"--for: {err}") from None
    if seconds <= 0:
        raise UsageError(f"--for must be more than 0, got {for_}")
    now = time.time()
    store = open_store(cfg, env.environ)
    try:
        sid = records.add_silence(
            store,
            rule=rule,
            subject=subject,
            starts_at_s=now,
            ends_at_s=now + seconds,
            created_by=os_user(),
            comment=comment,
        )
    finally:
        store.close()
    doc = {
        "id": sid,
        "rule": rule,
        "subject": subject,
        "starts_at": _iso(now),
        "ends_at": _iso(now + seconds),
        "comment": comment,
    }
    if as_json:
        env.json(doc)
    else:
        env.echo(
            f"silence {sid}: {rule}"
            + (f" on {subject}" if subject else " (every subject)")
            + f" until {doc['ends_at']}"
        )


@silence_app.command("list")
def silence_list(
    all_: bool = typer.Option(False, "--all", help="Also the silences that have ended."),
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the silences as one JSON document."),
) -> None:
    """List the silences in force (or all of them)."""
    from perfbook.store import open_store
    from perfbook.watch import records

    env = current()
    store = open_store(env.config(config), env.environ)
    now = time.time()
    try:
        rows = records.list_silences(store, now=now, include_expired=all_)
    finally:
        store.close()
    docs = [_silence(r, now) for r in rows]
    if as_json:
        env.json({"silences": docs})
        return
    table = Table(show_edge=False)
    for col in ("id", "rule", "subject", "state", "ends", "by", "comment"):
        table.add_column(col, no_wrap=col != "comment")
    for d in docs:
        table.add_row(
            str(d["id"]),
            d["rule"],
            d["subject"] or "(every subject)",
            d["state"],
            d["ends_at"],
            d["created_by"],
            d["comment"],
        )
    _print(env, table if docs else "no silences")


@silence_app.command("expire")
def silence_expire(
    silence_id: int = typer.Argument(..., help="The silence's id (see: perfbook alerts silence list)."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """End a silence now."""
    from perfbook.store import open_store
    from perfbook.watch import records

    env = current()
    store = open_store(env.config(config), env.environ)
    try:
        row = records.expire_silence(store, silence_id, now=time.time())
    finally:
        store.close()
    env.echo(f"silence {silence_id} ({row['rule']}) ended at {_iso(row['ends_at_s'])}")


def _silence(row: dict[str, Any], now: float) -> dict[str, Any]:
    state = (
        "active"
        if row["starts_at_s"] <= now < row["ends_at_s"]
        else ("pending" if now < row["starts_at_s"] else "expired")
    )
    return {
        "id": row["id"],
        "rule": row["rule"],
        "subject": row["subject"],
        "state": state,
        "starts_at": _iso(row["starts_at_s"]),
        "ends_at": _iso(row["ends_at_s"]),
        "created_by": row["created_by"],
        "comment": row["comment"] or "",
    }


def list_command(
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the alerts as one JSON document."),
) -> None:
    """Alerts watch keeps: state, since, value, subject (firing first).

    Examples:

      perfbook alerts list

      perfbook alerts list --json | jq '.alerts[] | select(.state == "firing") | .rule'
    """
    from perfbook.incidents.model import format_id
    from perfbook.store import open_store
    from perfbook.watch import records

    env = current()
    store = open_store(env.config(config), env.environ)
    try:
        rows = records.list_alerts(store)
    finally:
        store.close()
    docs = [
        {
            "rule": r["rule"],
            "subject": r["subject"],
            "state": r["state"],
            "severity": r["severity"],
            "since": _iso(r["state_since_s"]),
            "value": r["value"],
            "threshold": r["threshold"],
            "summary": (r["annotations"] or {}).get("summary"),
            "muted_by": (r["annotations"] or {}).get("muted_by"),
            "incident": format_id(r["incident_id"]) if r["incident_id"] else None,
        }
        for r in rows
    ]
    if as_json:
        env.json({"alerts": docs})
        return
    if not docs:
        env.echo("no alerts (pending, firing or recently resolved); is perfbook watch running?")
        return
    table = Table(show_edge=False)
    for col in ("state", "rule", "subject", "since", "value", "limit", "muted"):
        table.add_column(col, no_wrap=True)
    for d in docs:
        table.add_row(
            d["state"],
            d["rule"],
            d["subject"] or "-",
            d["since"],
            _num(d["value"]),
            _num(d["threshold"]),
            d["muted_by"] or "",
        )
    _print(env, table)


def _print(env: Any, renderable: Any) -> None:
    console = env.out
    if not console.is_terminal:  # a pipe or a file: room for whole rule names and subjects
        console.width = max(console.width, 140)
    console.print(renderable)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def register(app: typer.Typer) -> None:
    """Add ``alerts list`` and ``alerts silence …`` to the alerts group (after alerts_cmd registered it)."""
    from perfbook.cli.alerts_cmd import alerts_app

    alerts_app.command("list")(list_command)
    alerts_app.add_typer(silence_app, name="silence")
