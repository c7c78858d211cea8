"""perfbook's own event loop across the window: how late a sleeper wakes.

Redis PINGs, WebSocket round trips and HTTP timings are all taken on triage's one event loop,
shared with the other probes; when that loop is stalled (a probe parsing on it, a thread holding
the GIL, a busy host) a round trip measured across the stall looks that much slower, and that is
perfbook's latency, not the target's. ``redis-cli --intrinsic-latency`` measures the same thing
for a host. The sampler sleeps ``tick_s`` over and over and records every wake-up that came late as
a stall ``(due, woke)``; a probe asks :meth:`LoopLagSampler.stall_s` how much of one of its samples
was such a stall and keeps the figure without it beside the measured one.

    sampler = LoopLagSampler()
    sampler.start()
    ...                                   # the probes run, with ctx.stall_s = sampler.stall_s
    lag = await sampler.stop()            # LoopLag(p99_ms=…, max_ms=…, stalled_ms=…)

The only I/O is the clock and the sleeps; the summary maths is pure (:func:`summarise`).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Awaitable, Callable

from perfbook.model import LoopLag

TICK_S = 0.005  # 200 wake-ups a second: cheap, and a stall is under-measured by at most this
STALL_MIN_S = 0.001  # later than this is a stall (timer slack and scheduling noise stay under it)


class LoopLagSampler:
    """Measures the lateness of this event loop until :meth:`stop`; see the module docstring."""

    def __init__(self, tick_s: float = TICK_S, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.tick_s = tick_s
        self.clock = clock
        self._sleep = sleep
        self.lags_s: list[float] = []
        self.stalls: list[tuple[float, float]] = []  # (due, woke) clock values, in order
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._started = 0.0

    def start(self) -> None:
        """Start sampling on the running loop."""
        self._started = self.clock()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            before = self.clock()
            await self._sleep(self.tick_s)
            woke = self.clock()
            late = max(0.0, woke - before - self.tick_s)
            self.lags_s.append(late)
            if late > STALL_MIN_S:
                self.stalls.append((before + self.tick_s, woke))

    async def stop(self) -> LoopLag:
        """Stop at the next tick and summarise what was measured."""
        self._stop.set()
        if self._task is not None:
            await self._task
        return summarise(self.lags_s, self.stalls, self.tick_s, self.clock() - self._started)

    def stall_s(self, started: float, ended: float) -> float:
        """Seconds of the stalls recorded so far that fall between two clock values."""
        total = 0.0
        first = max(0, bisect.bisect_left(self.stalls, (started, started)) - 1)
        for due, woke in self.stalls[first:]:
            if due >= ended:
                break
            total += max(0.0, min(woke, ended) - max(due, started))
        return total


def summarise(lags_s: list[float], stalls: list[tuple[float, float]], tick_s: float, duration_s: float) -> LoopLag:
    """The LoopLag of a run: percentiles of the lateness, the longest stall, the stalled time.

    >>> lag = summarise([0.0] * 98 + [0.02, 0.04], [(1.0, 1.02), (2.0, 2.04)], 0.005, 3.0)
    >>> (lag.samples, lag.p50_ms, lag.p99_ms, lag.max_ms, lag.stalled_ms)
    (100, 0.0, 20.0, 40.0, 60.0)
    """
    ordered = sorted(lags_s)

    def pct_ms(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 3)

    return LoopLag(tick_ms=round(tick_s * 1000, 3), samples=len(ordered), duration_s=round(max(0.0, duration_s), 3),
                   p50_ms=pct_ms(0.5), p99_ms=pct_ms(0.99),
                   max_ms=round(ordered[-1] * 1000, 3) if ordered else None,
                   stalled_ms=round(sum(woke - due for due, woke in stalls) * 1000, 3))
