"""Exit codes of every perfbook command, in one place (DESIGN.md "Exit codes").

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
    OK = 0
    FAILED = 1
    USAGE = 2
    THRESHOLD = 3
    INTERRUPTED = 130
