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

    Boundaries are passed in: tests give a fake ``clock`` / ``sleep``.
    """

    config: Config
    window_s: float
    deadline: float  # clock() value by which the probe must have returned
    local: bool = True  # the targets run on this machine (host/process/containers describe it)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    own_pid: int = field(default_factory=os.getpid)
    # seconds perfbook's own event loop was stalled between two clock() values (triage's
    # probes.loop_lag sampler); None when nobody measures it (a probe run on its own)
    stall_s: Callable[[float, float], float] | None = None

    def time_left(self) -> float:
        """Seconds until the deadline (never negative)."""
        return max(0.0, self.deadline - self.clock())

    def less_own_stalls(self, spans: list[tuple[float, float]]) -> list[float] | None:
        """Each ``(started, ended)`` sample's duration less perfbook's own event-loop stalls in it;
        None when the stalls are not measured. Ask after the samples, so every stall is recorded.

        >>> ctx = ProbeContext(config=Config(), window_s=2.0, deadline=0, stall_s=lambda a, b: 0.03)
        >>> ctx.less_own_stalls([(1.0, 1.04)])
        [0.01]
        """
        if self.stall_s is None:
            return None
        return [round(max(0.0, (end - start) - self.stall_s(start, end)), 6) for start, end in spans]

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


class BaseProbe:
    """What a built-in probe declares about itself, once, as light class attributes: triage, the
    config checks, the evidence docs and the CLI read these and keep no per-layer table of their
    own. Reading them imports the probe's module only, never its heavy dependencies (those are
    in ``requires`` and imported by ``collect``).

        class RedisProbe(BaseProbe):
            name = "redis"                      # the --only / --skip key and the JSON key
            requires = ("redis.asyncio",)       # imported by triage before the window starts
            evidence = RedisEvidence            # its dataclass in perfbook.evidence.redis
            rules = "perfbook.rules.redis"      # its rules module (None: another layer's judge it)
            target_key = "redis.url"            # the config key naming its target

            @classmethod
            def unconfigured(cls, cfg: Config) -> str | None:
                return None if cfg.redis.url else "no [redis] url"

            async def collect(self, ctx: ProbeContext) -> Evidence: ...
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    evidence: ClassVar[type]
    rules: ClassVar[str | None] = None
    local: ClassVar[bool] = False  # describes THIS machine: skipped for remote targets ([host] remote)
    codes: ClassVar[str | None] = None  # prefix of the finding codes judged on its evidence (None: name)
    target_key: ClassVar[str | None] = None

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        """Why this probe has nothing to do under ``cfg`` (the ``skipped`` reason), or None."""
        return None

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        """How long one of its requests or statements may take."""
        return 1.0

    @classmethod
    def budget_s(cls, cfg: Config, window_s: float) -> float:
        """Its time budget: the window, one request timeout, and a little slack."""
        return window_s + cls.timeout_s(cfg) + 0.5

    @classmethod
    def target(cls, cfg: Config) -> str:
        """Its configured target (unredacted; "" when none), from ``target_key``."""
        if cls.target_key is None:
            return ""
        section, key = cls.target_key.split(".")
        return str(getattr(getattr(cfg, section), key) or "")

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Gather the evidence; see :class:`Probe`."""
        raise NotImplementedError


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
