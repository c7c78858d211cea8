"""perfbook's own event loop across the window: how late a sleeper wakes.

Redis PINGs, WebSocket round trips and HTTP timings are all taken on triage's one event loop,
shared with the other probes; when that loop is stalled (a probe parsing on it, a thread holding
the GIL, a busy host) a round trip measured across the stall looks that much slower, and that is
perfbook's latency, not the target's. ``redis-cli --intrinsic-latency`` measures the same thing
for a host. The sampler sleeps ``tick_s`` over and over and records every wake-up that came late as
a stall ``(due, woke)``; a probe asks :meth:`LoopLagSampler.stall_s` how long stalls held up one
of its samples and keeps the figure without them beside the measured one.

What holds a sample up is the loop being busy at its edges: while its request was to be sent, or
when its answer was to be read. A stall in the middle of a long request costs it nothing (the
server works meanwhile), so only the stalls at a sample's start and end count — each with the
stalls chained to it (back to back, the sampler waking only between them: a loop that is busy
throughout, as when another thread holds the GIL). A PING measured across a 30 ms stall loses
those 30 ms; a 2.5 s request with a 200 ms stall in its middle keeps its 2.5 s. The figure
without the stalls is a lower bound; the truth lies between the two.

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

TICK_S = 0.002  # 500 wake-ups a second (about 1 % of a core): a stall is under-measured by at most this
STALL_MIN_S = 0.001  # later than this is a stall (timer slack and scheduling noise stay under it)
CHAIN_GAP_S = TICK_S + STALL_MIN_S  # stalls this close follow each other: the sampler only ran between
EDGE_S = 2 * TICK_S + STALL_MIN_S  # a stall this close to a sample's start or end holds it up


class LoopLagSampler:
    """Measures the lateness of this event loop until :meth:`stop`; see the module docstring."""

    def __init__(
        self,
        tick_s: float = TICK_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
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
        """Seconds the stalls recorded so far held up a sample taken between two clock values:
        the chains of stalls at its start and at its end (see the module docstring).

        >>> s = LoopLagSampler()
        >>> s.stalls = [(1.000, 1.030), (2.0, 2.2), (3.0, 3.03), (3.032, 3.06)]
        >>> round(s.stall_s(1.0002, 1.0305), 4), s.stall_s(1.5, 2.5), round(s.stall_s(2.999, 3.061), 4)
        (0.0298, 0.0, 0.058)
        """
        total = 0.0
        for begin, end, busy in self._chains(started, ended):
            at_start = begin <= started + EDGE_S and end > started
            at_end = end >= ended - EDGE_S and begin < ended
            if at_start or at_end:
                total += busy
        return total

    def _chains(self, started: float, ended: float) -> list[tuple[float, float, float]]:
        """``(begin, end, stalled seconds inside [started, ended])`` of each chain of stalls there."""
        chains: list[list[float]] = []
        first = max(0, bisect.bisect_left(self.stalls, (started, started)) - 1)
        for due, woke in self.stalls[first:]:
            if due >= ended:
                break
            inside = max(0.0, min(woke, ended) - max(due, started))
            if inside <= 0:
                continue
            if chains and due - chains[-1][1] <= CHAIN_GAP_S:
                chains[-1][1], chains[-1][2] = woke, chains[-1][2] + inside
            else:
                chains.append([due, woke, inside])
        return [(b, e, busy) for b, e, busy in chains]


def summarise(
    lags_s: list[float], stalls: list[tuple[float, float]], tick_s: float, duration_s: float
) -> LoopLag:
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

    return LoopLag(
        tick_ms=round(tick_s * 1000, 3),
        samples=len(ordered),
        duration_s=round(max(0.0, duration_s), 3),
        p50_ms=pct_ms(0.5),
        p99_ms=pct_ms(0.99),
        max_ms=round(ordered[-1] * 1000, 3) if ordered else None,
        stalled_ms=round(sum(woke - due for due, woke in stalls) * 1000, 3),
    )
