"""What a long command shows while it works (on a terminal, on stderr): the step it is on.

Each object is a Rich renderable redrawn at every refresh of ``env.err.status(...)``, so the
seconds move without the command's code calling anything. The clock is passed in (tests use a
fake one).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text


class StepProgress:
    """``capacity: step 3, testing 400 rps for 5 s (2.1 s in)``.

    p = StepProgress(clock=lambda: 12.0)
    p.start(3, 400.0, 5.0)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.number, self.rate_rps, self.step_s, self.started = 0, 0.0, 0.0, clock()

    def start(self, number: int, rate_rps: float, step_s: float) -> None:
        self.number, self.rate_rps, self.step_s, self.started = number, rate_rps, step_s, self.clock()

    def __str__(self) -> str:
        if not self.number:
            return "capacity: starting…"
        return (
            f"capacity: step {self.number}, testing {self.rate_rps:,.0f} rps for {self.step_s:g} s "
            f"({self.clock() - self.started:.1f} s in)"
        )

    def __rich__(self) -> Text:
        return Text(str(self))
