"""``perfbook status build``: write the static status page from the incident store."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from perfbook.cli.env import CONFIG_OPTION, JSON_OPTION, current
from perfbook.errors import UsageError

status_app = typer.Typer(
    help="The public status page: components, open incidents with their public updates, history.",
    no_args_is_help=True,
)


@status_app.command("build")
def build_command(
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        file_okay=False,
        help="Directory to write into (default \\[status] dir; created when missing).",
    ),
    as_json: bool = JSON_OPTION,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Write index.html, status.json and status.txt: what users see, and nothing internal.

    Each component (\\[status] components: a name and the endpoints / layers it stands for) is
    operational, degraded_performance, partial_outage or major_outage, from the open incidents
    and their latest triage. index.html is static (no JavaScript), readable on a phone;
    status.json uses Atlassian Statuspage's component states; status.txt is the runbook's plain
    form. Every file is checked for internals (tables, queries, hosts, IPs, pids, DSNs, finding
    codes) before any is written, and each is replaced atomically. With \\[status] dir set,
    every incident change rebuilds the page by itself.

    Examples:

      perfbook status build --out /var/www/status

      perfbook status build --json | jq '.page.components'
    """
    from perfbook.statuspage.build import build
    from perfbook.store import open_store

    env = current()
    cfg = env.config(config)
    target = out or (Path(cfg.status.dir).expanduser() if cfg.status.dir else None)
    if target is None:
        raise UsageError(
            "no directory to write the status page into",
            hint="give --out DIR, or set [status] dir in perfbook.toml",
        )
    store = open_store(cfg)
    try:
        paths = build(store, cfg, target)
    finally:
        store.close()
    doc = json.loads((target / "status.json").read_text(encoding="utf-8"))
    if as_json:
        env.json({"out": str(target), "files": [str(p) for p in paths], "page": doc})
        return
    console = env.out
    console.print(f"[bold]{doc['page']['name']}[/]: {doc['status']['description']}", highlight=False)
    for comp in doc["components"]:
        console.print(f"  {comp['name']}: {comp['status']}", highlight=False)
    console.print(
        f"{len(doc['incidents'])} open incident(s), {len(doc['history'])} in the last "
        f"{doc['page']['history_days']} days; wrote {', '.join(p.name for p in paths)} to {target}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``status`` group to the root app."""
    app.add_typer(status_app, name="status")
