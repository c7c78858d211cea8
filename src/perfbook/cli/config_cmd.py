"""``perfbook config init | show``: write a commented sample, show the effective config."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from perfbook.cli.env import CONFIG_OPTION, current
from perfbook.config import effective_items
from perfbook.config_sample import sample_toml
from perfbook.errors import UsageError

config_app = typer.Typer(
    help="Write a sample perfbook.toml, or show the effective config and where each value came from.",
    no_args_is_help=True,
)


@config_app.command("init")
def init(
    path: Path = typer.Argument(Path("perfbook.toml"), dir_okay=False, help="Where to write it."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented sample perfbook.toml (every key, its meaning and default).

    Example: perfbook config init && $EDITOR perfbook.toml
    """
    env = current()
    if (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    env.check_output(path, "config init")
    env.write(path, sample_toml(), what="config init")
    env.echo(f"wrote {path}", err=True)


@config_app.command("show")
def show(
    config: Path | None = CONFIG_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON: {key: {value, source}}."),
) -> None:
    """Print the effective config, secrets redacted, with where each value came from.

    Sources: flag, env VAR, file PATH, default. Example: PERFBOOK_POSTGRES_DSN=… perfbook config show
    """
    env = current()
    cfg = env.config(config)
    rows = effective_items(cfg)
    if as_json:
        env.json({key: {"value": value, "source": source} for key, value, source in rows})
        return
    table = Table(
        title=f"perfbook config ({cfg.path or 'built-in defaults'})", title_justify="left", show_edge=False
    )
    for col in ("key", "value", "source"):
        table.add_column(col)
    for key, value, source in rows:
        style = "dim" if source == "default" else "bold"
        table.add_row(key, Text(str(value)), Text(source, style=style))
    env.out.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``config`` group to the root app."""
    app.add_typer(config_app, name="config")
