"""``perfbook serve``: the dashboard, the JSON API, the public status page (and /metrics with --watch)."""

from __future__ import annotations

from pathlib import Path

import typer

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.errors import UsageError

TOKEN_ENV = "PERFBOOK_SERVE_TOKEN"

HELP = f"""Serve the dashboard, the JSON API (/api/v1/) and the public status page (/status) over the store.

Pages: Overview (latest triage, KPIs with sparklines, alerts, causes, open incidents; refreshes
itself), Triage (run one, read any stored report), Incidents (timeline, checklist, messages,
postmortem), Fixes (audit log; plan, then apply after confirming), Load runs, and Lab with --lab.

Security: it listens on 127.0.0.1 unless --listen says otherwise (a warning when that is not
loopback and no token is set). Reads are open to whoever reaches it; every write needs the token
in {TOKEN_ENV} (Authorization: Bearer for the API; signed in once on the pages, whose forms also
carry a CSRF token). Without the variable the server is read-only. /status, /status.json and
/badge/NAME.svg are public and show nothing internal.

Examples:

  perfbook serve                                     # http://127.0.0.1:8080, read-only

  {TOKEN_ENV}=$(openssl rand -hex 16) perfbook serve --listen 127.0.0.1:9000

  perfbook serve --lab                               # the running lab: its config, and the Lab page

  curl -s http://127.0.0.1:8080/api/v1/incidents | jq '.incidents[].id'
"""


def serve_command(
    listen: str = typer.Option(
        "127.0.0.1:8080",
        "--listen",
        "-l",
        envvar="PERFBOOK_SERVE_LISTEN",
        help="HOST:PORT to listen on (env PERFBOOK_SERVE_LISTEN); port 0 picks a free one.",
    ),
    lab: bool = typer.Option(
        False, "--lab", help="Serve the running lab: its perfbook.toml, and the Lab page to switch faults."
    ),
    lab_dir: Path | None = typer.Option(
        None, "--lab-dir", help="The lab's state directory (default: the lab's own default)."
    ),
    watch: bool = typer.Option(
        False, "--watch", help="Also run perfbook watch in this process and serve its /metrics."
    ),
    refresh: float = typer.Option(
        5.0, "--refresh", min=1.0, max=300.0, help="Seconds between the Overview's refreshes."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    from perfbook.store import open_store
    from perfbook.web.app import create_app
    from perfbook.web.server import bind, is_loopback, parse_listen, serve

    env = current()
    host, port = parse_listen(listen)
    state = _lab_state(lab_dir) if lab else None
    if state is not None and config is None:
        from perfbook.lab import labconfig

        config = labconfig.config_path(state)
    cfg = env.config(config)
    token = env.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise UsageError(
            f"{TOKEN_ENV} is too short to guard writes ({len(token)} characters, 16 or more needed)",
            hint="e.g. export PERFBOOK_SERVE_TOKEN=$(openssl rand -hex 16)",
        )
    metrics = _watch(cfg) if watch else None
    store = open_store(cfg, env.environ)
    sock = bind(host, port)
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host) and token is None:
        env.echo(
            f"warning: listening on {host}, beyond this machine, with no {TOKEN_ENV}: anyone who reaches it "
            "reads every incident and report (writes are off)",
            err=True,
        )
    mode = "writes need the token" if token else f"read-only (set {TOKEN_ENV} to allow writes)"
    env.echo(f"perfbook serve: http://{shown}:{real_port}/ ({mode}; store {store.url_redacted})", err=True)
    try:
        serve(create_app(cfg, store, token=token, lab=state, refresh_s=refresh, metrics=metrics), sock)
    finally:
        store.close()


def _lab_state(lab_dir: Path | None):
    from perfbook.cli.lab_cmd import _dir, _running_state

    return _running_state(_dir(lab_dir))


def _watch(cfg):
    """``--watch``: start perfbook watch in this process and return its /metrics builder.

    The hook for the watch command (``perfbook.watch``): it runs its schedule in a thread of this
    process, and gives a function returning perfbook's own metrics (exposition text, content type).
    """
    try:
        from perfbook.watch.serve import start_for_serve
    except ImportError:
        raise UsageError(
            "serve --watch needs perfbook watch, which this build does not have yet",
            hint="run perfbook watch beside perfbook serve: they share the store",
        ) from None
    return start_for_serve(cfg)


def register(app: typer.Typer) -> None:
    """Add ``perfbook serve`` to the root app."""
    app.command("serve", help=HELP)(serve_command)
