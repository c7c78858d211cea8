"""Open-loop pacing: rate stages and the intended send time of the i-th request (pure).

``--rate 500`` is one flat stage; ``--rate 100:2000:30s`` ramps linearly from 100 to 2000 rps
over 30 s; ``--stages 30s@100,60s@500`` holds each rate for its duration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perfbook.errors import UsageError
from perfbook.units import parse_duration_s


@dataclass(frozen=True)
class Stage:
    """``duration_s`` seconds going linearly from ``from_rps`` to ``to_rps``."""

    duration_s: float
    from_rps: float
    to_rps: float

    def count(self, t_s: float) -> float:
        """Requests due in the first ``t_s`` seconds of this stage (the integral of the rate)."""
        slope = (self.to_rps - self.from_rps) / self.duration_s
        return self.from_rps * t_s + slope * t_s * t_s / 2

    def time_of(self, n: float) -> float:
        """Inverse of :meth:`count`: when the ``n``-th request of this stage is due."""
        slope = (self.to_rps - self.from_rps) / self.duration_s
        if abs(slope) < 1e-12:
            return n / self.from_rps
        # Solve slope/2 t² + from t − n = 0 for the positive root.
        disc = self.from_rps**2 + 2 * slope * n
        return (-self.from_rps + math.sqrt(max(disc, 0.0))) / slope


def parse_rate(text: str, duration_s: float) -> list[Stage]:
    """``'500'`` (for ``duration_s``) or ``'FROM:TO:OVER'`` → stages."""
    parts = str(text).split(":")
    try:
        if len(parts) == 1:
            return check_stages([Stage(duration_s, float(parts[0]), float(parts[0]))])
        if len(parts) == 3:
            stage = Stage(parse_duration_s(parts[2]), float(parts[0]), float(parts[1]))
            return check_stages([stage])
    except ValueError:
        pass
    raise UsageError(f"bad --rate {text!r}", hint="e.g. --rate 500 or --rate 100:2000:30s")


def parse_stages(text: str) -> list[Stage]:
    """``'30s@100,60s@500'`` → flat stages held one after another."""
    stages = []
    for item in str(text).split(","):
        duration, sep, rate = item.partition("@")
        try:
            rps = float(rate)
        except ValueError:
            rps = -1.0
        if not sep or rps <= 0:
            raise UsageError(f"bad --stages item {item!r}", hint="e.g. --stages 30s@100,60s@500,30s@1000")
        stages.append(Stage(parse_duration_s(duration), rps, rps))
    return check_stages(stages)


def check_stages(stages: list[Stage]) -> list[Stage]:
    """Reject zero durations and non-positive rates (a stage must send something)."""
    for stage in stages:
        if stage.duration_s <= 0 or stage.from_rps <= 0 or stage.to_rps <= 0:
            raise UsageError(f"bad rate stage {stage}: durations and rates must be > 0")
    return stages


def peak_rps(stages: list[Stage]) -> float:
    """The highest rate any stage asks for."""
    return max(max(s.from_rps, s.to_rps) for s in stages)


class Schedule:
    """Intended send times for one worker's share of the stages.

    >>> Schedule([Stage(2.0, 10, 10)]).at(5), Schedule([Stage(2.0, 10, 10)]).at(20)
    (0.5, None)
    """

    def __init__(self, stages: list[Stage], share: float = 1.0, limit: int | None = None) -> None:
        self.stages = [Stage(s.duration_s, s.from_rps * share, s.to_rps * share) for s in stages]
        self.limit = limit
        self._starts: list[tuple[float, float]] = []  # (start time, requests before) per stage
        t_s = n = 0.0
        for stage in self.stages:
            self._starts.append((t_s, n))
            t_s += stage.duration_s
            n += stage.count(stage.duration_s)
        self.duration_s = t_s
        self.total = n
        self._end = min(n, limit) if limit is not None else n
        flat = len(self.stages) == 1 and self.stages[0].from_rps == self.stages[0].to_rps
        self._period_s = 1.0 / self.stages[0].from_rps if flat else None  # the common case, per request

    @property
    def requests(self) -> int:
        """How many requests the schedule sends.

        >>> Schedule([Stage(2.0, 10, 10)]).requests, Schedule([Stage(2.0, 10, 10)], limit=7).requests
        (20, 7)
        """
        return math.ceil(self._end - 1e-9)

    def at(self, index: int) -> float | None:
        """Seconds after the start when request ``index`` (0-based) is due; None past the end."""
        if index >= self._end:
            return None
        if self._period_s is not None:
            return index * self._period_s
        for stage, (start_s, before) in zip(reversed(self.stages), reversed(self._starts), strict=True):
            if index >= before:
                return start_s + stage.time_of(index - before)
        return None
