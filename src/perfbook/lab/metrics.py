"""The backend's Prometheus metrics, in multiprocess mode so one scrape sees both workers.

The names and labels are the ones the runbook's alert rules use:
``http_request_duration_seconds`` (histogram, buckets up to 30 s) and ``http_requests_total``,
both labelled ``method``, ``handler`` (the route template, e.g. ``/api/v1/users/{user_id}``) and
``status``. ``PROMETHEUS_MULTIPROC_DIR`` must be set before prometheus_client is imported: the
backend supervisor sets it for its workers and calls ``mark_process_dead`` when one exits.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "none"  # handler label of requests no route matched (keeps label cardinality bounded)

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "handler", "status"],
    buckets=BUCKETS_S,
)
REQUESTS_TOTAL = Counter("http_requests_total", "HTTP requests", ["method", "handler", "status"])


def render_metrics(_: Request) -> Response:
    """The /metrics page: every live and dead worker's samples merged."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Pure ASGI middleware timing each HTTP request under its route template.

    Plain ASGI (not BaseHTTPMiddleware) so streaming responses and WebSockets pass untouched.
    """

    def __init__(self, app: ASGIApp, skip_prefixes: tuple[str, ...] = ("/admin",)) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            handler = getattr(route, "path", None) or UNMATCHED
            labels = (scope["method"], handler, str(status))
            REQUEST_DURATION.labels(*labels).observe(time.perf_counter() - started)
            REQUESTS_TOTAL.labels(*labels).inc()
