"""perfbook lab: placeholder until its issue lands (registers nothing yet)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
