"""Exit codes of every perfbook command, in one place, below every user of them.

:mod:`perfbook.errors` maps each error class to one of these (``exit_code``); ``cli/`` exits with
them (``perfbook.cli.exit`` re-exports the enum for the commands).

| code | meaning |
|------|---------|
| 0    | done, and below the ``--fail-on`` cut |
| 1    | perfbook itself failed (a bug, or nothing could run at all) |
| 2    | usage or config error |
| 3    | at or above the cut: a triage severity / level, or a missed ``--slo`` for load |
| 130  | interrupted |
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """What a shell sees: ``perfbook triage; echo $?``."""

    OK = 0
    FAILED = 1
    USAGE = 2
    THRESHOLD = 3
    INTERRUPTED = 130
