"""The capacity search as a pure generator: no clock, no sleeps, just rates and verdicts."""

from __future__ import annotations

from perfbook.load.capacity import Outcome, search


def drive(capacity_rps: float, **kw) -> tuple[list[float], Outcome]:
    """Run the search against a model that meets the SLO up to ``capacity_rps``."""
    gen = search(**kw)
    tried = []
    rate = gen.send(None)
    while True:
        tried.append(rate)
        try:
            rate = gen.send(rate <= capacity_rps)
        except StopIteration as stop:
            return tried, stop.value


def test_ramps_then_bisects_to_the_tolerance():
    tried, out = drive(430, start_rps=100, max_rps=10_000)
    assert tried[:4] == [100, 200, 400, 800]
    assert out.knee_rps <= 430 < out.failed_rps
    assert (out.failed_rps - out.knee_rps) / out.knee_rps <= 0.05


def test_first_step_missing_gives_no_knee():
    tried, out = drive(10, start_rps=100, max_rps=1000)
    assert tried == [100] and out.knee_rps is None and out.failed_rps == 100


def test_max_rate_caps_the_ramp():
    tried, out = drive(1e9, start_rps=100, max_rps=700)
    assert tried == [100, 200, 400, 700]
    assert out.knee_rps == 700 and out.failed_rps is None and "max-rate" in out.reason


def test_step_limit_bounds_the_bisection():
    tried, out = drive(431, start_rps=100, max_rps=10_000, tolerance=1e-9, max_steps=8)
    assert len(tried) == 8
