"""WebSocket rules: judge the websocket probe's connect and round trips. Pure.

Codes: ws.unreachable (a configured endpoint refuses or fails the handshake), ws.latency_high
(round-trip p95 over ``thresholds.ws_rtt_ms``). perfbook has no fix for either: the actions are
``manual`` commands a person can run.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config
from perfbook.evidence import data_of, usable
from perfbook.evidence.websocket import WebsocketEvidence
from perfbook.model import Action, Evidence, Finding, UnreliableFigure

MIN_SAMPLES = 5  # fewer round trips than this: reported, low confidence


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """ws.unreachable / ws.latency_high from the ``websocket`` evidence (nothing when skipped)."""
    ev = evidence.get("websocket")
    if ev is None or ev.status in ("skipped", "error"):
        return []
    data = data_of(ev, WebsocketEvidence)
    if ev.status == "unavailable" or (data is not None and not data.connected):
        return [_unreachable(ev, data, cfg)]
    if data is None or data.rtt_p95_ms is None:
        return []
    if data.rtt_p95_ms <= cfg.thresholds.ws_rtt_ms or _lag_explains(data, cfg.thresholds.ws_rtt_ms):
        # a stall of perfbook's own event loop is no WebSocket latency: the report's loop_lag says so
        return []
    return [_latency_high(data, cfg)]


def unreliable(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[UnreliableFigure]:
    """A round-trip p95 over the limit only because perfbook's own event loop stalled meanwhile."""
    data = usable(evidence.get("websocket"), WebsocketEvidence)
    limit = cfg.thresholds.ws_rtt_ms
    if data is None or not _lag_explains(data, limit):
        return []
    assert data.rtt_p95_ms is not None and data.rtt_p95_net_ms is not None
    return [
        UnreliableFigure(
            code="ws.latency_high",
            subject=data.url,
            figure="round trip p95",
            value=data.rtt_p95_ms,
            net=data.rtt_p95_net_ms,
            limit=limit,
            unit="ms",
        )
    ]


def _lag_explains(data: WebsocketEvidence, limit_ms: float) -> bool:
    return (
        data.rtt_p95_ms is not None
        and data.rtt_p95_ms > limit_ms
        and data.rtt_p95_net_ms is not None
        and data.rtt_p95_net_ms <= limit_ms
    )


def _unreachable(ev: Evidence[Any], data: WebsocketEvidence | None, cfg: Config) -> Finding:
    url = data.url if data is not None else cfg.websocket.url
    reason = ev.reason or "no answer"
    return finding(
        "ws.unreachable",
        url,
        f"WebSocket {url} is unreachable: {reason}",
        evidence={
            "reason": reason,
            "error": data.error if data else None,
            "handshake_status": data.handshake_status if data else None,
        },
        actions=[
            Action(
                "manual.inspect_websocket",
                "try the handshake by hand and read the server's answer",
                manual=_handshake_command(url),
            )
        ],
    )


def _latency_high(data: WebsocketEvidence, cfg: Config) -> Finding:
    limit_ms = cfg.thresholds.ws_rtt_ms
    return finding(
        "ws.latency_high",
        data.url,
        f"WebSocket round trips p95 {data.rtt_p95_ms:.0f} ms over {limit_ms:.0f} ms "
        f"({data.mode}, {data.samples} samples)",
        value=data.rtt_p95_ms,
        threshold=limit_ms,
        unit="ms",
        evidence={
            "mode": data.mode,
            "samples": data.samples,
            "rtt_p50_ms": data.rtt_p50_ms,
            "rtt_p95_ms": data.rtt_p95_ms,
            "rtt_max_ms": data.rtt_max_ms,
            "timeouts": data.timeouts,
            "connect_s": data.connect_s,
        },
        low_confidence=data.samples < MIN_SAMPLES,
        actions=[
            Action(
                "manual.inspect_websocket",
                "compare with the plain HTTP latency of the same host, then look at the server's event loop "
                "and message queue (runbook: WebSocket message queue in Redis db 1)",
                manual=f"{_handshake_command(data.url)}; redis-cli -n 1 info keyspace",
            )
        ],
    )


def _handshake_command(ws_url: str) -> str:
    """A curl that performs the opening handshake: shows refusals, redirects and slow upgrades."""
    http_url = "http" + ws_url[2:] if ws_url.startswith("ws") else ws_url
    return (
        f"curl -sv -m 5 --http1.1 -o /dev/null -w '%{{http_code}} %{{time_total}}s\\n' "
        f"-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
        f"-H 'Sec-WebSocket-Key: cGVyZmJvb2twZXJmYm9vaw==' {shlex.quote(http_url)}"
    )
