"""The exit codes, for the commands: they live below every user in :mod:`perfbook.exit_codes`."""

from perfbook.exit_codes import ExitCode

__all__ = ["ExitCode"]
