"""The probe interface: one async ``collect`` method, and :func:`run_probe` around it.

A probe does I/O and nothing else; it returns :class:`~perfbook.model.Evidence` whose ``data`` is
its own dataclass. :func:`run_probe` owns the time budget, the timing and turning exceptions into
evidence, so no probe can take triage down:

- :class:`ProbeUnavailable` (the target is not reachable) -> ``status="unavailable"`` + reason;
- :class:`ProbeSkipped` (not configured, or an extra not installed) -> ``status="skipped"``;
- running past the budget -> ``unavailable`` ("no answer within 7.0 s");
- anything else -> ``status="error"`` with the exception type: a perfbook bug, never an outage.

    class RedisProbe:
        name = "redis"
        async def collect(self, ctx: ProbeContext) -> Evidence: ...
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar, Protocol

from perfbook.config import Config
from perfbook.model import Evidence
from perfbook.redact import redact_text


class ProbeUnavailable(Exception):
    """Raised by a probe when its target cannot be reached; the message is the reason."""


class ProbeSkipped(Exception):
    """Raised by a probe that has nothing to do (not configured, extra missing); message = why."""


@dataclass(frozen=True)
class ProbeContext:
    """What every probe gets: the config, the window, the clock and the deadline.

    Boundaries are passed in (STYLE.md): tests give a fake ``clock`` / ``sleep``.
    """

    config: Config
    window_s: float
    deadline: float  # clock() value by which the probe must have returned
    local: bool = True  # the targets run on this machine (host/process/containers describe it)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    own_pid: int = field(default_factory=os.getpid)

    def time_left(self) -> float:
        """Seconds until the deadline (never negative)."""
        return max(0.0, self.deadline - self.clock())

    def sample_times(self, min_samples: int = 5) -> list[float]:
        """Offsets (s) from the window's start at which to sample: every W/10, at least ``min_samples``.

        >>> ProbeContext(config=Config(), window_s=2.0, deadline=0).sample_times()
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
        """
        n = max(min_samples - 1, 10)
        return [round(self.window_s * i / n, 6) for i in range(n + 1)]


class Probe(Protocol):
    """A layer's evidence gatherer. ``name`` is the --only/--skip key and the JSON key.

    ``requires`` names the modules ``collect`` imports lazily; triage imports them before any
    probe starts, because an import inside the window blocks the event loop that every other
    probe is timing on (a first ``import psycopg`` took tens of ms and showed as Redis latency).
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]

    async def collect(self, ctx: ProbeContext) -> Evidence: ...


async def run_probe(probe: Probe, ctx: ProbeContext, budget_s: float) -> Evidence:
    """Run ``probe.collect`` under ``budget_s`` seconds and always return evidence."""
    started = ctx.clock()
    try:
        ev = await asyncio.wait_for(probe.collect(ctx), timeout=budget_s)
    except ProbeSkipped as err:
        ev = Evidence(probe.name, "skipped", 0.0, reason=redact_text(str(err)))
    except ProbeUnavailable as err:
        ev = Evidence(probe.name, "unavailable", 0.0, reason=redact_text(str(err)))
    except TimeoutError:
        ev = Evidence(probe.name, "unavailable", 0.0, reason=f"no answer within {budget_s:.1f} s")
    except asyncio.CancelledError:
        raise
    except Exception as err:  # a bug in perfbook: say so, never mistake it for an outage
        ev = Evidence(probe.name, "error", 0.0, reason=redact_text(f"{type(err).__name__}: {err}"))
    return replace(ev, duration_s=round(ctx.clock() - started, 3))
