"""``perfbook store``: the store's schema — where it is, which revision, and the upgrade."""

from __future__ import annotations

from pathlib import Path

import typer

from perfbook.cli.env import CONFIG_OPTION, JSON_OPTION, current

HELP = """perfbook's store: SQLite under the state directory by default, PostgreSQL for a team.

The schema is migrated with Alembic: on first use, or explicitly with `perfbook store upgrade`
(what a team runs once after installing a new perfbook against a shared PostgreSQL store).

Examples:

  perfbook store status

  perfbook store upgrade --json
"""

app = typer.Typer(help=HELP, no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``perfbook store`` to the root app."""
    root.add_typer(app, name="store")


@app.command("upgrade")
def upgrade_command(as_json: bool = JSON_OPTION, config: Path | None = CONFIG_OPTION) -> None:
    """Migrate the store to this perfbook's schema (a no-op when it is current).

    Example:

      PERFBOOK_STORE_URL=postgresql://perfbook@db/perfbook perfbook store upgrade
    """
    from perfbook.store import open_store
    from perfbook.store.migrate import upgrade

    store = open_store(current().config(config), upgrade=False)
    try:
        done = upgrade(store)
    finally:
        store.close()
    doc = {"url": store.url_redacted, "before": done.before, "after": done.after, "changed": done.changed}
    if as_json:
        current().json(doc)
    else:
        what = (
            f"upgraded {done.before or 'an unversioned store'} → {done.after}"
            if done.changed
            else f"already at {done.after}"
        )
        current().echo(f"{doc['url']}: {what}")


@app.command("status")
def status_command(as_json: bool = JSON_OPTION, config: Path | None = CONFIG_OPTION) -> None:
    """Where the store is, its schema revision and this perfbook's, without changing anything.

    Example:

      perfbook store status --json | jq .revision
    """
    from perfbook.store import open_store
    from perfbook.store.migrate import HEAD, current_revision

    store = open_store(current().config(config), upgrade=False)
    try:
        revision = store.read(current_revision)
    finally:
        store.close()
    doc = {
        "url": store.url_redacted,
        "dialect": store.dialect,
        "revision": revision,
        "head": HEAD,
        "current": revision == HEAD,
    }
    if as_json:
        current().json(doc)
    else:
        state = "current" if doc["current"] else "behind: run perfbook store upgrade"
        current().echo(f"{doc['url']} ({store.dialect}): revision {revision or 'none'} of {HEAD}, {state}")
