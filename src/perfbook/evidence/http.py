"""What the http probe hands the rules, severity and KPIs: field names are the contract.

Durations are seconds of perfbook's own timed requests across the window (one in flight per
endpoint); a timed-out request counts as taking ``timeout_s``. URLs are redacted, query values masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HealthCheck:
    """The health check: one GET of ``health_path`` at the start of the window."""

    url: str  # health_path under base_url (redacted)
    ok: bool  # 2xx within timeout_s
    status: int | None = None  # None when no response came
    duration_s: float | None = None  # time to the full response; None when none came
    error: str | None = None  # "timeout", "connect_refused", … when no response came


@dataclass
class EndpointTiming:
    """perfbook's own timed requests to one endpoint across the window (one in flight at a time)."""

    path: str  # the configured path, query values masked (…)
    method: str  # HTTP method sent
    url: str  # redacted
    requests: int  # requests sent (timeouts included)
    p50_s: float | None = None  # a timed-out request counts as taking timeout_s
    p95_s: float | None = None  # 95th percentile of the timed requests
    max_s: float | None = None  # slowest timed request
    statuses: dict[str, int] = field(default_factory=dict)  # {"200": 4, "503": 1}
    #: transport errors by kind: timeout, connect_refused, reset …
    errors: dict[str, int] = field(default_factory=dict)
    unexpected: int = 0  # responses other than expect_status (or 5xx when none is set) + transport errors
    expect_status: int | None = None  # the status the config expects; None = any non-5xx
    connect_s: float | None = None  # median phases where httpx exposes them
    tls_s: float | None = None  # median TLS handshake (https only)
    first_byte_s: float | None = None  # median from request sent to response headers
    notes: list[str] = field(default_factory=list)  # e.g. "headers_env API_HEADERS is not set" (never values)
    #: p95 less perfbook's own event-loop stalls during each request; None: not measured
    p95_net_s: float | None = None


@dataclass
class HttpEvidence:
    """What the http probe saw of the backend."""

    base_url: str  # redacted
    reachable: bool  # at least one response of any status arrived
    health: HealthCheck | None  # None when health_path is not checked or nothing answered
    endpoints: list[EndpointTiming] = field(default_factory=list)  # one per configured endpoint
    timeout_s: float = 5.0  # per-request timeout in force (a timeout counts as this long)
