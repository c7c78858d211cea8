"""perfbook's own event-loop lag is not blamed on the target.

Redis PINGs and WebSocket round trips are timed on triage's event loop. A thread of perfbook's
own process that holds the GIL (a page parsed in a worker thread, a C extension busy) delays the
loop's every wake-up; a healthy private Redis and a healthy echo server then measure tens of
milliseconds — what ``redis.latency_high`` used to report. Triage measures the loop's lag, reports
it, and raises no latency finding the lag explains. A Redis that is itself slow (DEBUG SLEEP) still
is ``redis.latency_high``.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from perfbook.config import Config
from perfbook.report.json import report_to_dict, validate_report
from perfbook.report.terminal import print_report
from perfbook.triage import run_triage

from .apps import ws_echo
from .conftest import start

SWITCH_S = 0.03  # how long a thread may hold the GIL before the loop's thread gets it back


@pytest.fixture(scope="module")
def ws_url() -> Iterator[str]:
    yield from start(ws_echo())


@pytest.fixture
def gil_hog() -> Iterator[None]:
    """A pure-Python busy thread in perfbook's own process, holding the GIL SWITCH_S at a time."""
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_S)
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        sys.setswitchinterval(old)


def config(redis_url: str, ws_url: str = "") -> Config:
    return Config.model_validate(
        {
            "redis": {"url": redis_url},
            "websocket": {"url": ws_url, "mode": "echo"},
            "thresholds": {"ws_rtt_ms": 20.0},
        }
    )


def codes(report) -> set[str]:
    return {f.code for f in report.findings}


def test_a_gil_holding_thread_in_perfbook_is_not_redis_or_websocket_latency(redis_url, ws_url, gil_hog):
    report = asyncio.run(run_triage(config(redis_url, ws_url), only=["redis", "websocket"]))
    lag = report.loop_lag
    assert lag is not None and lag.max_ms is not None and lag.max_ms >= 10, lag
    assert report.probes["redis"].status == "ok" and report.probes["websocket"].status == "ok"
    # the wrong findings are gone ...
    assert "redis.latency_high" not in codes(report) and "ws.latency_high" not in codes(report)
    # ... because the figures that would have raised them are perfbook's own, and the report says so
    by_code = {u.code: u for u in lag.unreliable}
    ping = report.probes["redis"].data.latency
    assert ping.p99_ms > 10.0 and ping.p99_net_ms <= 10.0, ping
    assert (
        by_code["redis.latency_high"].value == ping.p99_ms
        and by_code["redis.latency_high"].net == ping.p99_net_ms
    )
    ws = report.probes["websocket"].data
    if ws.rtt_p95_ms > 20.0:  # the echo server answers in well under a millisecond: any excess is ours
        assert by_code["ws.latency_high"].net <= 20.0
    doc = report_to_dict(report)
    validate_report(doc)
    assert doc["loop_lag"]["max_ms"] == lag.max_ms and doc["loop_lag"]["unreliable"][0]["code"]
    console = Console(record=True, width=200, color_system=None)
    print_report(report, Config().thresholds, console)
    out = console.export_text()
    assert "perfbook's own event loop: stalls up to" in out and "unreliable: redis.latency_high" in out


def test_a_redis_that_is_itself_slow_is_still_latency_high(redis_url):
    import redis

    stop = threading.Event()

    def stall_redis() -> None:  # Redis busy 50 ms of about every 100 ms: its own latency, not perfbook's
        client = redis.Redis.from_url(redis_url)
        pause = random.Random(7)
        while not stop.is_set():
            client.execute_command("DEBUG", "SLEEP", 0.05)
            # idle for a random while: a fixed 100 ms cycle can lock in step with the probe's PINGs
            time.sleep(pause.uniform(0.02, 0.08))
        client.close()

    thread = threading.Thread(target=stall_redis, daemon=True)
    thread.start()
    try:
        report = asyncio.run(run_triage(config(redis_url), only=["redis"]))
    finally:
        stop.set()
        thread.join(5)
    (f,) = [f for f in report.findings if f.code == "redis.latency_high"]
    latency = report.probes["redis"].data.latency
    # PINGs land at random in Redis's 50 ms stalls: their p99 is tens of ms (25–50 measured), far over
    # the 10 ms threshold, and none of it is perfbook's own
    assert f.value >= 2 * Config().thresholds.redis_latency_ms and not f.low_confidence
    assert latency.p99_net_ms is not None and latency.p99_net_ms > 10.0  # nothing of it was perfbook's stall
    assert report.loop_lag is not None and report.loop_lag.unreliable == []
