"""What the ``perfbook incident`` commands share: their options, the store, and the one place they print."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from perfbook.cli.env import JSON_OPTION, current
from perfbook.config import Config
from perfbook.errors import UsageError

INCIDENT_OPTION = typer.Option(
    None,
    "--incident",
    envvar="PERFBOOK_INCIDENT",
    metavar="ID",
    help="Attach the result to this open incident, e.g. INC-7: evidence on its timeline (env PERFBOOK_INCIDENT).",
)
JSON = JSON_OPTION
ACTOR = typer.Option(None, "--as", help="Who is acting (default: the OS user).")
WINDOW = typer.Option(None, "--window", "-w", help="Triage window, e.g. 2s (default \\[triage] window_s).")
ONLY = typer.Option(
    None, "--only", help="Triage only these probes, comma-separated (as perfbook triage --only)."
)
SKIP = typer.Option(
    None, "--skip", help="Triage without these probes, comma-separated (e.g. host on a shared machine)."
)
ID_ARG = typer.Argument(..., metavar="ID", help="Incident id, e.g. INC-7 (or 7).")


def emit(as_json: bool, doc: dict[str, Any], page: Any) -> None:
    """One JSON document, or the page ``page(doc)`` builds, on stdout."""
    env = current()
    if as_json:
        env.json(doc)
        return
    renderable = page(doc)
    if renderable != "":
        env.out.print(renderable)


def change(config: Path | Config | None, as_json: bool, number: int, fn: Any) -> None:
    """Run one change against the store; show the incident (JSON) or the header and the new events."""
    from perfbook.incidents import records
    from perfbook.incidents.views import build_change

    cfg = config if isinstance(config, Config) else current().config(config)
    store = store_for(cfg)
    try:
        last = max((e.id for e in records.timeline(store, number)), default=0)
        fn(store)
        emit(as_json, show_doc(store, cfg, number), lambda doc: build_change(doc, last))
        publish(store, cfg)
    finally:
        store.close()


def publish(store: Any, cfg: Config) -> None:
    """Rebuild the status page after an incident changed, when ``[status] dir`` is set.

    The change itself is already stored: a page that cannot be written is a warning, not a failure.
    """
    from perfbook.errors import PerfbookError
    from perfbook.statuspage import rebuild_if_configured

    try:
        rebuild_if_configured(store, cfg)
    except (PerfbookError, OSError) as err:
        current().echo(f"warning: status page not rebuilt: {err}", err=True)


def attach_and_publish(
    cfg: Config, number: int | None, kind: str, document: dict[str, Any], actor: str | None = None
) -> None:
    """Attach ``document`` to incident ``number`` (nothing when None), say so on stderr, rebuild the page."""
    if number is None:
        return
    from perfbook.incidents.attach import record

    env = current()
    for line in record(cfg, number, kind, document, actor=actor):
        env.echo(line, err=True)
    store = store_for(cfg)
    try:
        publish(store, cfg)
    finally:
        store.close()


def show_doc(store: Any, cfg: Config, number: int) -> dict[str, Any]:
    from perfbook.incidents import records
    from perfbook.incidents.views import show_to_dict

    return show_to_dict(records.snapshot(store, number), now(), cfg.incident.update_every_min)


def show_page(store: Any, doc: dict[str, Any]) -> Any:
    from perfbook.incidents import records
    from perfbook.incidents.views import build_show

    snap = records.snapshot(store, doc["incident"]["number"])
    return build_show(doc, snap.checklist, snap.timeline)


def store_for(cfg: Config) -> Any:
    from perfbook.store import open_store

    return open_store(cfg)


def number_of(ref: str) -> int:
    from perfbook.incidents.model import parse_id

    return parse_id(ref)


def actor_of(name: str | None) -> str:
    from perfbook.incidents.attach import os_user

    if name is not None and not name.strip():
        raise UsageError("--as is empty")
    return name.strip() if name else os_user()


def status_filter(text: str) -> Any:
    from perfbook.incidents.model import Status

    try:
        return Status(text.strip().lower())
    except ValueError:
        raise UsageError(
            f"--status must be one of {', '.join(s.value for s in Status)}, got {text!r}"
        ) from None


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def triage_now(cfg: Config, window: str | None, only: str | None, skip: str | None) -> dict[str, Any]:
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
    env = current()
    if not env.interactive:
        return report_to_dict(triage(cfg, window_s=window_s, **probes))
    with env.err.status("triage: probing…"):
        return report_to_dict(triage(cfg, window_s=window_s, **probes))
