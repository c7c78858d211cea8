"""HTTP probe: the health check and timed requests to each configured endpoint across the window.

Evidence contract (read by ``rules/http.py``, severity and KPIs; field names are the contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HealthCheck:
    """The health check: one GET of ``health_path`` at the start of the window."""

    url: str
    ok: bool  # 2xx within timeout_s
    status: int | None = None  # None when no response came
    duration_s: float | None = None
    error: str | None = None  # "timeout", "connect_refused", … when no response came


@dataclass
class EndpointTiming:
    """perfbook's own timed requests to one endpoint across the window (one in flight at a time)."""

    path: str
    method: str
    url: str  # redacted
    requests: int  # requests sent (timeouts included)
    p50_s: float | None = None  # a timed-out request counts as taking timeout_s
    p95_s: float | None = None
    max_s: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)  # {"200": 4, "503": 1}
    errors: dict[str, int] = field(default_factory=dict)  # transport errors by kind: timeout, connect_refused, reset …
    unexpected: int = 0  # responses other than expect_status (or 5xx when none is set) + transport errors
    expect_status: int | None = None
    connect_s: float | None = None  # median phases where httpx exposes them
    tls_s: float | None = None
    first_byte_s: float | None = None


@dataclass
class HttpEvidence:
    """What the http probe saw of the backend."""

    base_url: str  # redacted
    reachable: bool  # at least one response of any status arrived
    health: HealthCheck | None
    endpoints: list[EndpointTiming] = field(default_factory=list)
    timeout_s: float = 5.0
