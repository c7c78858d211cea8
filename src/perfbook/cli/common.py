"""Options and helpers shared by the command groups: config loading, consoles, JSON output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from perfbook.config import Config, load_config

CONFIG_OPTION = typer.Option(
    None, "--config", "-c", envvar="PERFBOOK_CONFIG", dir_okay=False,
    help="perfbook.toml to read (env PERFBOOK_CONFIG; default ./perfbook.toml, else built-in defaults).",
)


def stdout_console() -> Console:
    """The report console: colour only on a TTY, NO_COLOR honoured (Rich does both)."""
    return Console(soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    """Progress, warnings and logs: never on stdout, so ``--json`` stays one document."""
    return Console(stderr=True, highlight=False)


def load(config: Path | None, overrides: dict[str, tuple[Any, str]] | None = None) -> Config:
    """The effective config for a command (ConfigError -> exit 2 by the caller)."""
    return load_config(config, overrides=overrides)


def print_json(doc: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def interactive() -> bool:
    """True when a person can answer a prompt (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"
