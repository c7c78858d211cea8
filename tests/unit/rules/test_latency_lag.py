"""Redis and WebSocket latency that perfbook's own event-loop stalls explain raises no finding and
is listed as unreliable; latency that stays over the limit without them is still a finding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config
from perfbook.evidence.websocket import WebsocketEvidence
from perfbook.model import Evidence
from perfbook.rules import redis as redis_rules
from perfbook.rules import websocket as ws_rules

CFG = Config()


@pytest.fixture
def redis_ev(recorded) -> Evidence:
    return recorded("redis_misses.json", redis_rules.RedisEvidence)


def with_latency(ev: Evidence, p99_ms: float, net_ms: float | None) -> Evidence:
    latency = replace(
        ev.data.latency, samples=20, p99_ms=p99_ms, max_ms=p99_ms, p99_net_ms=net_ms, loop_lag_max_ms=None
    )
    return replace(ev, data=replace(ev.data, latency=latency))


def latency_codes(ev: Evidence) -> list[str]:
    return [f.code for f in redis_rules.evaluate({"redis": ev}, CFG) if f.code == "redis.latency_high"]


def test_a_ping_p99_only_perfbooks_stalls_push_over_the_limit_is_unreliable_not_a_finding(redis_ev):
    ev = with_latency(redis_ev, p99_ms=31.2, net_ms=5.5)
    assert latency_codes(ev) == []
    (u,) = redis_rules.unreliable({"redis": ev}, CFG)
    assert (u.code, u.figure, u.value, u.net, u.limit, u.unit) == (
        "redis.latency_high",
        "PING p99",
        31.2,
        5.5,
        10.0,
        "ms",
    )


@pytest.mark.parametrize(("p99_ms", "net_ms"), [(48.0, 45.0), (31.2, None)])
def test_a_ping_p99_over_the_limit_without_the_stalls_or_unmeasured_is_a_finding(redis_ev, p99_ms, net_ms):
    ev = with_latency(redis_ev, p99_ms=p99_ms, net_ms=net_ms)
    assert latency_codes(ev) == ["redis.latency_high"] and redis_rules.unreliable({"redis": ev}, CFG) == []


def ws(p95_ms: float, net_ms: float | None) -> dict[str, Evidence]:
    data = WebsocketEvidence(
        url="ws://x/ws",
        mode="echo",
        connected=True,
        samples=10,
        rtt_p50_ms=p95_ms,
        rtt_p95_ms=p95_ms,
        rtt_max_ms=p95_ms,
        rtt_p95_net_ms=net_ms,
    )
    return {"websocket": Evidence("websocket", "ok", 2.0, data=data)}


def test_websocket_round_trips_only_perfbooks_stalls_make_slow_are_unreliable():
    assert ws_rules.evaluate(ws(140.0, 3.0), CFG) == []
    (u,) = ws_rules.unreliable(ws(140.0, 3.0), CFG)
    assert (u.code, u.value, u.net, u.limit) == ("ws.latency_high", 140.0, 3.0, 100.0)
    assert [f.code for f in ws_rules.evaluate(ws(140.0, 120.0), CFG)] == ["ws.latency_high"]
    assert ws_rules.unreliable(ws(140.0, 120.0), CFG) == []
