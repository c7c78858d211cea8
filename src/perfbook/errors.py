"""Errors perfbook raises on purpose, each with its exit code (the one place errors map to
:class:`~perfbook.exit_codes.ExitCode`). Only ``cli/`` turns them into one line and an exit."""

from __future__ import annotations

from perfbook.exit_codes import ExitCode


class PerfbookError(Exception):
    """An error a user can act on: printed as one line (and an optional hint), never a traceback.

    >>> str(PerfbookError("postgres: connection refused at db:5432", hint="check the DSN"))
    'postgres: connection refused at db:5432'
    """

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(PerfbookError):
    """A bad config value, unknown key or unreadable file (exit 2)."""

    exit_code = ExitCode.USAGE


class UsageError(PerfbookError):
    """A bad command-line argument (exit 2)."""

    exit_code = ExitCode.USAGE


class StoreError(PerfbookError):
    """The store could not be read or written (one line, the URL redacted)."""


class NotFoundError(UsageError):
    """What was named does not exist: an incident id, a stored report (exit 2; HTTP 404 in serve)."""


class ConflictError(UsageError):
    """A change the current state refuses: resolving a resolved incident … (exit 2; HTTP 409 in serve)."""
