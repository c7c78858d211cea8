"""What the websocket probe hands the rules (``rules/websocket.py``): field names are the contract.

A handshake that is refused or never completes gives ``status="unavailable"`` *with* data
(``connected=False``), so the rule can say ``ws.unreachable`` for a configured endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WebsocketEvidence:
    """What the websocket probe saw of ``[websocket] url``."""

    url: str  # redacted
    mode: str  # "ping" (ping/pong control frames) or "echo" (a text message the server sends back)
    connected: bool  # the opening handshake completed
    connect_s: float | None = None  # TCP + TLS + WebSocket handshake
    samples: int = 0  # round trips attempted
    rtt_p50_ms: float | None = None  # a round trip that timed out counts as timeout_s
    rtt_p95_ms: float | None = None  # 95th percentile round trip
    rtt_max_ms: float | None = None  # slowest round trip
    timeouts: int = 0  # round trips with no answer within timeout_s (sampling stops at the first)
    error: str | None = None  # connect_refused, timeout, handshake_rejected, closed, dns, reset, other
    handshake_status: int | None = None  # HTTP status of a refused handshake (403, 404 …)
    #: p95 with perfbook's own event-loop stalls during each trip taken out (triage)
    rtt_p95_net_ms: float | None = None
