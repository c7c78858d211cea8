"""Pure parts of perfbook load: histograms, schedules, SLOs, requests, splitting, compare."""

from __future__ import annotations

import random

import pytest

from perfbook.errors import UsageError
from perfbook.load import hist
from perfbook.load.compare import changes
from perfbook.load.engine import WorkerPlan
from perfbook.load.runner import split, worker_plans
from perfbook.load.schedule import Schedule, Stage, parse_rate, parse_stages
from perfbook.load.slo import judge, parse_slo
from perfbook.load.spec import Target, build_request, parse_header


def test_batch_recording_matches_record_value():
    values_s = [random.expovariate(1 / 0.003) for _ in range(5000)] + [1e-7, 5.0, 3599.0]
    fast, slow = hist.new_histogram(), hist.new_histogram()
    hist.record_batch(fast, values_s)
    for v in values_s:
        slow.record_value(min(max(int(v * 1e6), 1), hist.HIGHEST_US))
    assert list(fast.counts) == list(slow.counts)
    summary = hist.latency_summary(fast)
    assert summary["mean_s"] == round(slow.get_mean_value() / 1e6, 6)
    for name, pct in hist.PERCENTILES:
        assert summary[name] == round(slow.get_value_at_percentile(pct) / 1e6, 6)


def test_histograms_merge_through_encoding():
    a, b, merged = hist.new_histogram(), hist.new_histogram(), hist.new_histogram()
    hist.record_batch(a, [0.001] * 10)
    hist.record_batch(b, [0.002] * 30)
    hist.decode_into(merged, hist.encode(a))
    hist.decode_into(merged, hist.encode(b))
    hist.decode_into(merged, hist.encode(hist.new_histogram()))
    assert merged.get_total_count() == 40
    assert hist.latency_summary(merged)["p50_s"] == pytest.approx(0.002, rel=0.01)


def test_flat_and_ramped_schedules():
    flat = Schedule([Stage(2.0, 100, 100)])
    assert flat.at(0) == 0 and flat.at(100) == pytest.approx(1.0) and flat.at(200) is None
    ramp = Schedule([Stage(10.0, 0.0001, 200)])  # ~1000 requests, due later and later less apart
    assert ramp.total == pytest.approx(1000, rel=1e-3)
    assert ramp.at(250) == pytest.approx(5.0, rel=1e-3)  # a quarter of the area is in the first half
    half = Schedule([Stage(2.0, 100, 100)], share=0.5)
    assert half.at(50) == pytest.approx(1.0)
    assert Schedule([Stage(2.0, 100, 100)], limit=10).at(10) is None


def test_stages_follow_each_other():
    sched = Schedule(parse_stages("1s@100,1s@300"))
    assert sched.total == pytest.approx(400)
    assert sched.at(100) == pytest.approx(1.0) and sched.at(250) == pytest.approx(1.5)


@pytest.mark.parametrize("text", ["fast", "100:200", "0", "-5", "1:2:0s"])
def test_bad_rates_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_rate(text, 10.0)


def test_rate_forms():
    assert parse_rate("500", 10.0) == [Stage(10.0, 500, 500)]
    assert parse_rate("100:2000:30s", 10.0) == [Stage(30.0, 100, 2000)]


def test_slo_parse_and_judge():
    objectives = parse_slo("p95<2s,errors<1%,rps>1000")
    doc = {"latency": {"p95_s": 1.5}, "error_rate": 0.02, "rps": 1500.0, "responses": 10}
    assert [v.met for v in judge(objectives, doc)] == [True, False, True]
    assert [o.text() for o in parse_slo("kpi", kpi=(2.0, 0.01, 1000.0))] == [
        "p95<2s",
        "errors<1%",
        "rps>1000",
    ]
    assert parse_slo("p99<=250ms")[0].value == pytest.approx(0.25)


@pytest.mark.parametrize("text", ["p95<2", "latency<2s", "errors<2s", "p95<5%", "", "kpi"])
def test_bad_slos(text):
    with pytest.raises(UsageError):
        parse_slo(text)


def test_request_bytes():
    target = Target.parse("http://127.0.0.1:8001/api/v1/users?q=1")
    raw = build_request(
        target, "post", [parse_header("X-A: 1"), ("user-agent", "mine")], b'{"a":1}', "application/json"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/v1/users?q=1 HTTP/1.1"
    assert "Host: 127.0.0.1:8001" in lines and "X-A: 1" in lines and "user-agent: mine" in lines
    assert "Content-Length: 7" in lines and body == b'{"a":1}'
    assert not any(line.startswith("User-Agent") for line in lines)
    assert b"Connection: close" in build_request(target, keepalive=False)
    with pytest.raises(UsageError):
        parse_header("no colon")
    with pytest.raises(UsageError):
        Target.parse("ftp://x/")


def test_split_and_worker_plans():
    assert split(5000, 3) == [1667, 1667, 1666] and sum(split(7, 7)) == 7
    plan = WorkerPlan(host="h", port=1, request=b"", connections=3, requests=10)
    plans = worker_plans(plan, 4)  # never more workers than connections
    assert [p.connections for p in plans] == [1, 1, 1]
    assert sum(p.requests for p in plans) == 10
    assert sum(p.share for p in plans) == pytest.approx(1.0)


def test_compare_changes():
    # 1,000 requests each: 10 % errors against none is far past noise (two standard errors: ~2 %)
    a = {"rps": 100.0, "requests": 1000, "duration_s": 1.0, "error_rate": 0.1, "latency": {"p95_s": 0.2}}
    b = {"rps": 200.0, "requests": 1000, "duration_s": 1.0, "error_rate": 0.0, "latency": {"p95_s": 0.1}}
    rows = {r["figure"]: r for r in changes(a, b)}
    assert (
        rows["throughput (rps)"]["change"] == pytest.approx(1.0)
        and rows["throughput (rps)"]["verdict"] == "better"
    )
    assert rows["latency p95"]["verdict"] == "better" and rows["error rate"]["verdict"] == "better"
    assert rows["latency p50"]["a"] is None and rows["latency p50"]["change"] is None


def test_pacing_warning_names_enough_connections():
    from perfbook.load.options import connections_for, pacing_warning

    assert pacing_warning(
        [Stage(1.0, 2000, 2000)], 4
    ) is not None and "--max-connections 8" in pacing_warning([Stage(1.0, 2000, 2000)], 4)
    assert pacing_warning([Stage(1.0, 2000, 2000)], 8) is None
    assert pacing_warning([], 1) is None and connections_for(10_000) == 40


def open_result(**kw):
    from perfbook.load.result import LoadResult

    res = LoadResult("http://t/", "GET", "open", 10, 1, 500.0, drain_s=10.0)
    res.status_codes, res.responses = {"200": kw.get("sent", 2000)}, kw.get("sent", 2000)
    for key, value in {
        "scheduled": 2000,
        "sent": 2000,
        "waited": 0,
        "peak_connections": 27,
        "max_connections": 1000,
        "schedule_s": 4.0,
        **kw,
    }.items():
        setattr(res, key, value)
    return res


def test_an_open_loop_rate_is_judged_target_against_sent():
    kept = open_result()
    assert kept.rate_check()["kept"] and kept.failure(0.5) is None
    capped = open_result(sent=400, waited=1990, peak_connections=5, max_connections=5)
    rate = capped.rate_check()
    assert (rate["kept"], rate["limit"], rate["target_rps"], rate["achieved_rps"], rate["not_sent"]) == (
        False,
        "--max-connections",
        500.0,
        100.0,
        1600,
    )
    assert capped.failure(0.5) == (
        "rate missed: target 500 rps, achieved 100 rps (--max-connections 5 reached: "
        "1,990 requests waited for a free connection, 1,600 never sent)"
    )
    slow_client = open_result(sent=1500)
    assert slow_client.rate_check()["limit"].startswith("perfbook's own event loop")
    slow_client.interrupted = True  # a signal has its own exit code: no rate verdict on the part that ran
    assert slow_client.failure(0.5) is None
    assert open_result(sent=1990).rate_check()["kept"]  # within 1 %
    closed = open_result()
    closed.mode = "closed"
    assert closed.rate_check() is None
