"""Splitting a run over cluster workers (pure): exact counts, interleaved open-loop schedules, clocks, merge."""

from __future__ import annotations

import random

import pytest

from perfbook.errors import UsageError
from perfbook.load import hist
from perfbook.load.cluster import normalized_address
from perfbook.load.cluster_plan import ClockOffset, clock_offset, cut_stages, share_plans
from perfbook.load.cluster_report import ClusterLoadResult, WorkerRow
from perfbook.load.cluster_worker import ShareOutcome
from perfbook.load.engine import WorkerPlan, WorkerResult
from perfbook.load.runner import LoadRun
from perfbook.load.schedule import Schedule, Stage


def plan(**kw) -> WorkerPlan:
    return WorkerPlan(
        host="127.0.0.1", port=1, request=b"GET / HTTP/1.1\r\n\r\n", **{"connections": 20, **kw}
    )


def send_times(p: WorkerPlan, phase_s: float) -> list[float]:
    sched = Schedule(list(p.stages), p.share, p.requests)
    out, i = [], 0
    while (t := sched.at(i)) is not None:
        out.append(phase_s + t)
        i += 1
    return out


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_closed_loop_totals_are_exact(workers):
    parts = share_plans(plan(connections=20, requests=20_001), workers)
    assert sum(p.requests for p, _ in parts) == 20_001
    assert sum(p.connections for p, _ in parts) == 20
    assert all(phase == 0 for _, phase in parts)


def test_never_more_workers_than_connections():
    assert len(share_plans(plan(connections=3, requests=10), 8)) == 3


@pytest.mark.parametrize(
    "stages",
    [
        (Stage(10.0, 2000, 2000),),  # flat: the test's --rate 2000 -d 10s
        (Stage(5.0, 100, 2000),),  # a ramp: the shares must be cut, not just delayed
        (Stage(2.0, 300, 300), Stage(3.0, 900, 900)),
    ],
)
@pytest.mark.parametrize("workers", [2, 3])
def test_open_loop_shares_interleave_into_the_whole_schedule(stages, workers):
    whole = send_times(plan(stages=stages), 0.0)
    merged = sorted(t for p, phase in share_plans(plan(stages=stages), workers) for t in send_times(p, phase))
    assert len(merged) == len(whole)
    assert max(abs(a - b) for a, b in zip(merged, whole, strict=True)) < 1e-6


def test_open_loop_with_n_sends_exactly_n():
    parts = share_plans(plan(stages=(Stage(10.0, 1000, 1000),), requests=1001), 2)
    assert sum(len(send_times(p, phase)) for p, phase in parts) == 1001


def test_cut_stages_keeps_the_rest_of_the_ramp():
    assert cut_stages((Stage(4.0, 100, 500),), 1.0) == (Stage(3.0, 200.0, 500),)
    assert cut_stages((Stage(1.0, 10, 10), Stage(2.0, 20, 20)), 1.5) == (Stage(1.5, 20.0, 20),)


def test_clock_offset_takes_the_tightest_round_trip():
    rounds = [(0.0, 0.010, 5.004), (1.0, 1.002, 6.0012), (2.0, 2.006, 7.0)]
    assert clock_offset(rounds) == ClockOffset(offset_s=5.0002, uncertainty_s=0.001)


@pytest.mark.parametrize(
    "text", ["http://sched:8786", "tcp://sched", "tcp://:8786", "sched:http", "tcp://s:1/x"]
)
def test_bad_scheduler_addresses_are_usage_errors(text):
    with pytest.raises(UsageError):
        normalized_address(text)


def test_bare_host_port_means_tcp():
    assert normalized_address("10.0.0.5:8786") == ("tcp://10.0.0.5:8786", "10.0.0.5", 8786)


def _part(values_s: list[float]) -> WorkerResult:
    h = hist.new_histogram()
    hist.record_batch(h, values_s)
    return WorkerResult(
        responses=len(values_s),
        status_codes={"200": len(values_s)},
        duration_s=1.0,
        latency=hist.encode(h),
        latency_uncorrected=hist.encode(h),
    )


def test_the_merge_is_one_histogram_of_all_samples_not_an_average_of_percentiles():
    rng = random.Random(7)
    fast = [rng.uniform(0.001, 0.005) for _ in range(3000)]  # one worker near the target
    slow = [rng.uniform(0.040, 0.200) for _ in range(1000)]  # one far away
    result = ClusterLoadResult.for_run(LoadRun(plan=plan()), "tcp://s:8786", 2)
    rows = []
    for i, values in enumerate((fast, slow)):
        row = WorkerRow(f"w{i}", f"tcp://w{i}:1", "h", 1, 0.0, 0.001)
        outcome = ShareOutcome(i, result=_part(values), cpu_s=0.5)
        row.take(outcome)
        result.add(outcome.result)
        rows.append(row)
    result.finish(rows)
    doc = result.to_json()
    together = hist.new_histogram()
    hist.record_batch(together, fast + slow)
    assert doc["latency"] == hist.latency_summary(together)
    averaged = (rows[0].latency["p95_s"] + rows[1].latency["p95_s"]) / 2
    assert abs(doc["latency"]["p95_s"] - averaged) > 0.01  # what a naive merge would have said
    assert doc["requests"] == 4000 and not doc["cluster"]["partial"]


def test_a_lost_worker_makes_the_run_partial_and_keeps_its_last_count():
    from perfbook.load.engine import Snapshot

    result = ClusterLoadResult.for_run(LoadRun(plan=plan()), "tcp://s:8786", 2)
    ok, lost = (
        WorkerRow("a", "tcp://a:1", "h", 1, 0.0, 0.001),
        WorkerRow("b", "tcp://b:1", "h", 2, 0.0, 0.001),
    )
    ok.take(ShareOutcome(0, result=_part([0.001] * 10)))
    lost.lose(Snapshot(elapsed_s=2.5, requests=1234, responses=1230, errors=4), "left the cluster")
    result.finish([ok, lost])
    cluster = result.to_json()["cluster"]
    assert result.partial and cluster["missing"] == ["b"]
    assert cluster["workers"][1]["requests"] == 1234 and cluster["workers"][1]["last_report_s"] == 2.5


def test_without_the_extra_cluster_names_it_before_anything(monkeypatch):
    import sys

    from perfbook.load.cluster import connect

    monkeypatch.setitem(sys.modules, "distributed", None)  # as on a core install (make test-core has none)
    with pytest.raises(UsageError, match="needs Dask distributed") as err:
        connect("tcp://127.0.0.1:1")
    assert "perfbook[cluster]" in err.value.hint
