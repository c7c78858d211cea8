"""The websocket probe against a real websockets server: ping/pong, echo, latency, refusals."""

from __future__ import annotations

import time

from perfbook.probes.websocket import WebsocketProbe
from perfbook.rules.websocket import evaluate

from .servers import DelayProxy, WsServer, collect, make_config


def ws_config(url: str, mode: str = "ping", samples: int = 5, **thresholds):
    return make_config(
        websocket={"url": url, "mode": mode, "samples": samples},
        http={"timeout_s": 1.0},
        thresholds=thresholds,
    )


async def test_not_configured_is_skipped():
    ev = await collect(WebsocketProbe(), make_config())
    assert (ev.status, ev.reason) == ("skipped", "no [websocket] url")
    assert evaluate({"websocket": ev}, make_config()) == []


async def test_ping_pong_round_trips_spread_across_the_window():
    with WsServer() as srv:
        cfg = ws_config(srv.url, samples=5)
        started = time.monotonic()
        ev = await collect(WebsocketProbe(), cfg, window_s=0.5)
        took_s = time.monotonic() - started
    data = ev.data
    assert ev.status == "ok" and data.connected and data.mode == "ping"
    assert data.samples == 5 and data.timeouts == 0
    assert 0 < data.connect_s < 0.5
    assert 0 < data.rtt_p50_ms <= data.rtt_p95_ms <= data.rtt_max_ms < 50
    assert 0.4 <= took_s < 0.5 + 0.5
    assert evaluate({"websocket": ev}, cfg) == []


async def test_slow_echo_gives_ws_latency_high():
    with WsServer(delay_s=0.15) as srv:
        cfg = ws_config(srv.url, mode="echo", samples=5, ws_rtt_ms=100)
        ev = await collect(WebsocketProbe(), cfg, window_s=0.5)
        echoed = srv.messages
    assert ev.status == "ok" and echoed == ev.data.samples
    assert 150 <= ev.data.rtt_p95_ms < 400
    (f,) = evaluate({"websocket": ev}, cfg)
    assert (f.code, f.level.value, f.subject, f.threshold) == ("ws.latency_high", "warning", srv.url, 100)
    assert f.value == ev.data.rtt_p95_ms and f.actions[0].manual.startswith("curl")


async def test_an_echo_that_never_comes_counts_as_timeout_and_stops():
    with WsServer(delay_s=5.0) as srv:
        cfg = make_config(websocket={"url": srv.url, "mode": "echo", "samples": 5}, http={"timeout_s": 0.3})
        started = time.monotonic()
        ev = await collect(WebsocketProbe(), cfg, window_s=0.5)
        took_s = time.monotonic() - started
    assert ev.data.timeouts == 1 and ev.data.samples == 1 and ev.data.rtt_p95_ms == 300
    assert took_s < 0.5 + 0.3 + 1.2  # window + timeout_s + the close handshake's bound


async def test_rejected_handshake_and_closed_port_give_ws_unreachable(closed_port):
    with WsServer(reject=True) as srv:
        cfg = ws_config(srv.url)
        ev = await collect(WebsocketProbe(), cfg)
    assert ev.status == "unavailable" and ev.reason.startswith("handshake refused with 403 by 127.0.0.1:")
    assert ev.data.handshake_status == 403 and not ev.data.connected
    (f,) = evaluate({"websocket": ev}, cfg)
    assert f.code == "ws.unreachable" and f.evidence["handshake_status"] == 403

    cfg = ws_config(f"ws://127.0.0.1:{closed_port}/ws")
    ev = await collect(WebsocketProbe(), cfg)
    assert (ev.status, ev.reason) == ("unavailable", f"connection refused 127.0.0.1:{closed_port}")
    assert [f.code for f in evaluate({"websocket": ev}, cfg)] == ["ws.unreachable"]


async def test_a_slow_network_gives_ws_latency_high_in_ping_mode():
    with WsServer() as srv, DelayProxy(srv.port, delay_s=0.12) as proxy:
        cfg = ws_config(f"ws://127.0.0.1:{proxy.port}/ws", mode="ping", samples=4)
        ev = await collect(WebsocketProbe(), cfg, window_s=0.6)
    assert ev.status == "ok" and ev.data.samples == 4
    assert ev.data.connect_s >= 0.12 and 120 <= ev.data.rtt_p50_ms < 400
    assert [f.code for f in evaluate({"websocket": ev}, cfg)] == ["ws.latency_high"]
