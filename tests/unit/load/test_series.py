"""The per-second series: workers' seconds merge exactly (counts summed, HDR histograms added);
its sparklines fit the width."""

from __future__ import annotations

import pytest

from perfbook.load import hist
from perfbook.load.engine import WorkerResult
from perfbook.load.render import series_lines
from perfbook.load.result import LoadResult


def _second(t: int, latencies: list[float], errors: int = 0) -> tuple[int, int, int, str]:
    h = hist.new_histogram()
    hist.record_batch(h, latencies)
    return (t, len(latencies) + errors, errors, hist.encode(h))


def _result() -> LoadResult:
    return LoadResult(target="http://x", method="GET", mode="closed", connections=2, workers=2, rate_rps=None)


def test_workers_seconds_merge_exactly_and_gaps_are_rows():
    fast = [0.010] * 90 + [0.012] * 10
    slow = [0.030] * 95 + [0.080] * 5
    result = _result()
    result.add(WorkerResult(series=[_second(0, fast), _second(2, fast, errors=3)]))
    result.add(WorkerResult(series=[_second(0, slow)]))
    rows = result.to_json()["series"]
    assert [row["t_s"] for row in rows] == [0, 1, 2]
    assert [row["requests"] for row in rows] == [200, 0, 103]
    assert [row["errors"] for row in rows] == [0, 0, 3]
    both = hist.new_histogram()
    hist.record_batch(both, fast + slow)
    exact = hist.latency_summary(both)
    assert (rows[0]["p50_s"], rows[0]["p95_s"], rows[0]["p99_s"]) == (
        exact["p50_s"],
        exact["p95_s"],
        exact["p99_s"],
    )
    assert rows[0]["p95_s"] == pytest.approx(0.030, rel=0.01)
    assert rows[1]["p95_s"] is None  # nothing completed in that second


def test_no_series_without_requests():
    assert _result().to_json()["series"] == []


@pytest.mark.parametrize("width", [40, 80, 200])
def test_sparklines_fit_the_width(width):
    series = [{"requests": 100 + t % 7 * 10, "p95_s": 0.01 * (1 + t % 5)} for t in range(300)]
    lines = series_lines(series, width)
    assert [line.split()[0] for line in lines] == ["rps/s", "p95/s"]
    assert all(len(line) <= width for line in lines)
    assert lines[0].endswith("100–160") and lines[1].endswith("10.0 ms–50.0 ms")


def test_a_steady_rate_is_a_flat_line():
    line = series_lines([{"requests": n, "p95_s": None} for n in (295, 303, 300)], 80)
    assert line == ["rps/s ███  295–303"]  # p95 unmeasured: no line
