"""When a watch run starts and which probes it takes (pure).

>>> from perfbook.config import Config
>>> cfg = Config()
>>> skipped_probes(0, cfg), skipped_probes(1, cfg), skipped_probes(10, cfg)
([], ['postgres', 'containers'], [])
>>> next_start(100.0, 30.0, now=131.0)    # runs keep their grid: a late run skips its slot
160.0
"""

from __future__ import annotations

import math

from perfbook.config import Config
from perfbook.units import parse_duration

MIN_GAP_S = 0.25  # between a window's end and the next run's start


def skipped_probes(run_index: int, cfg: Config) -> list[str]:
    """The expensive probes left out of run ``run_index`` (0-based; the first run takes every probe)."""
    if run_index % cfg.watch.expensive_every == 0:
        return []
    return list(cfg.watch.expensive_probes)


def next_start(first_start_s: float, interval_s: float, *, now: float) -> float:
    """The next start on the grid ``first_start_s + k * interval_s`` after ``now``."""
    k = math.floor((now - first_start_s) / interval_s) + 1
    return first_start_s + max(k, 1) * interval_s


def window_for(cfg: Config, interval_s: float, window_flag: str | None = None) -> float:
    """The triage window of each run: ``--window``, ``[watch] window``, else ``[triage] window_s``,
    never longer than the interval allows.

    >>> window_for(Config(), 1.0), window_for(Config(), 30.0)
    (0.75, 2.0)
    """
    text = window_flag or cfg.watch.window
    window_s = parse_duration(text) if text else cfg.triage.window_s
    return max(0.1, min(window_s, interval_s - MIN_GAP_S))
