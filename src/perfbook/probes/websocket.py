"""WebSocket probe: connect time, then round trips spread across the window (ping/pong or echo).

Evidence: :mod:`perfbook.evidence.websocket` (read by ``rules/websocket.py``). A handshake that is
refused or never completes gives ``status="unavailable"`` *with* data (``connected=False``), so
the rule can say ``ws.unreachable`` for a configured endpoint.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from perfbook.config import Config
from perfbook.evidence.websocket import WebsocketEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped
from perfbook.probes.timing import host_port, percentile, transport_error_kind, unreachable_reason
from perfbook.redact import redact_url


class WebsocketProbe(BaseProbe):
    """``samples`` round trips over one connection, spread across the window, one in flight.

    ev = await WebsocketProbe().collect(ctx)   # ev.data is a WebsocketEvidence
    """

    name = "websocket"
    codes = "ws"  # ws.* findings are judged on its evidence
    requires = ("websockets.asyncio.client",)  # imported by triage before the window (see probes/base.py)
    evidence = WebsocketEvidence
    rules = "perfbook.rules.websocket"
    target_key = "websocket.url"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.websocket.url else "no [websocket] url"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return cfg.http.timeout_s

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Connect, then time the round trips; ``unavailable`` with data when the handshake fails."""
        cfg = ctx.config.websocket
        if not cfg.url:
            raise ProbeSkipped("no [websocket] url")
        from websockets.asyncio.client import connect

        data = WebsocketEvidence(url=redact_url(cfg.url), mode=cfg.mode, connected=False)
        timeout_s = ctx.config.http.timeout_s
        started = ctx.clock()
        try:
            ws = await asyncio.wait_for(
                connect(
                    cfg.url,
                    open_timeout=None,
                    ping_interval=None,
                    compression=None,
                    close_timeout=1,
                    max_size=cfg.max_message_bytes,
                    max_queue=4,
                ),  # bounded: a bigger message closes it
                timeout=_limit(ctx, timeout_s),
            )
        except Exception as err:  # every failure to open is data; a bug re-raises below
            return _not_connected(data, err, cfg.url, timeout_s)
        data.connected, data.connect_s = True, round(ctx.clock() - started, 6)
        try:
            spans = await _round_trips(ws, ctx, data, cfg.samples, timeout_s)
        finally:
            await _close(ws)
        _summarise(data, [end - start for start, end in spans], ctx.less_own_stalls(spans))
        status: ProbeStatus = "partial" if data.error else "ok"
        reason = f"connection {data.error} after {data.samples} round trip(s)" if data.error else None
        return Evidence("websocket", status, 0.0, reason=reason, data=data)


def _limit(ctx: ProbeContext, timeout_s: float) -> float:
    left = ctx.time_left()
    return min(timeout_s, max(0.05, left - 0.05)) if left > 0 else timeout_s


async def _round_trips(
    ws: Any, ctx: ProbeContext, data: WebsocketEvidence, samples: int, timeout_s: float
) -> list[tuple[float, float]]:
    """``(sent, answered)`` clock values of each round trip (a timed-out one counts as timeout_s)."""
    from websockets.exceptions import ConnectionClosed

    rtts_s: list[tuple[float, float]] = []
    start = ctx.clock()
    for i in range(samples):
        at, now = start + i * ctx.window_s / samples, ctx.clock()
        if rtts_s and (now >= start + ctx.window_s or ctx.time_left() < 0.1):
            break
        if at > now:
            await ctx.sleep(at - now)
        data.samples += 1
        sent = ctx.clock()
        try:
            await asyncio.wait_for(_one_trip(ws, data.mode), timeout=_limit(ctx, timeout_s))
        except TimeoutError:
            data.timeouts += 1
            rtts_s.append((sent, sent + timeout_s))
            break  # a late answer would be taken for the next one's
        except ConnectionClosed:
            data.error = "closed"
            break
        rtts_s.append((sent, ctx.clock()))
    return rtts_s


async def _one_trip(ws: Any, mode: str) -> None:
    if mode == "ping":
        pong = await ws.ping()
        await pong
        return
    payload = f"perfbook-{os.urandom(4).hex()}"
    await ws.send(payload)
    while await ws.recv() != payload:  # skip pushes the server sends on its own
        pass


async def _close(ws: Any) -> None:
    try:
        await asyncio.wait_for(ws.close(), timeout=1.0)
    except Exception:  # closing is best effort: the figures are already taken
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()


def _summarise(data: WebsocketEvidence, rtts_s: list[float], nets_s: list[float] | None) -> None:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    data.rtt_p50_ms, data.rtt_p95_ms = ms(percentile(rtts_s, 0.5)), ms(percentile(rtts_s, 0.95))
    data.rtt_max_ms = ms(max(rtts_s)) if rtts_s else None
    data.rtt_p95_net_ms = ms(percentile(nets_s, 0.95)) if nets_s else None


def _not_connected(data: WebsocketEvidence, err: Exception, url: str, timeout_s: float) -> Evidence:
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    if isinstance(err, InvalidURI):
        return Evidence("websocket", "unavailable", 0.0, reason=f"not a WebSocket URL: {data.url}", data=data)
    if isinstance(err, InvalidStatus):
        data.error, data.handshake_status = "handshake_rejected", err.response.status_code
        reason = f"handshake refused with {data.handshake_status} by {host_port(url)}"
    elif isinstance(err, InvalidHandshake):
        data.error, reason = "handshake_rejected", f"handshake failed with {host_port(url)}: {err}"
    else:
        kind = transport_error_kind(err)
        if kind == "other" and not isinstance(err, OSError):
            raise err
        data.error, reason = kind, unreachable_reason({kind: 1}, url, timeout_s)
    return Evidence("websocket", "unavailable", 0.0, reason=redact_url(reason), data=data)
