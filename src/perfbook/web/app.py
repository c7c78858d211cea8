"""The one app of ``perfbook serve``: :func:`create_app` builds it, each area is a router of its own.

    app = create_app(cfg, store, token=os.environ.get("PERFBOOK_SERVE_TOKEN"))
    uvicorn.run(app, host="127.0.0.1", port=8080)

Routers (one module each): ``pages`` (the dashboard's HTML), ``api`` and ``api_incidents`` (the
JSON API under ``/api/v1/``, schema at ``/api/v1/openapi.json``), ``status`` (the public status
page and badges), ``lab`` (only when serving the lab), ``hooks`` (``/hooks/…`` receivers: the
Alertmanager webhook goes there) and ``/metrics`` when a metrics source is passed (``serve
--watch``). A route is an adapter: it parses, calls the same functions the CLI calls, and renders.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders

from perfbook import __version__
from perfbook.config import Config
from perfbook.store import Store
from perfbook.web import failures
from perfbook.web.context import MetricsFn, ServeContext
from perfbook.web.render import HEADERS
from perfbook.web.security import Guard

MAX_BODY_BYTES = 1 << 20  # forms and API bodies are small; a hook may ask for more (see hooks.py)


class _Limits:
    """Security headers on every response; a body over the limit refused before it is read; a bug answered
    as a 500 naming its type (pure ASGI: a page pays microseconds for it, not a task per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        size = Headers(scope=scope).get("content-length")
        limit = MAX_BODY_BYTES * (20 if scope["path"].startswith("/hooks/") else 1)
        if size is not None and (not size.isdigit() or int(size) > limit):
            await failures.respond(Request(scope), 413, f"the body is over {limit} bytes")(
                scope, receive, send_with_headers
            )
            return
        try:
            await self.app(scope, receive, send_with_headers)
        # a bug: a 500 naming the type, the traceback in the log, the connection kept
        except Exception as err:
            if started:
                raise
            await failures.bug_response(Request(scope), err)(scope, receive, send_with_headers)


def create_app(
    cfg: Config,
    store: Store,
    *,
    token: str | None = None,
    lab: Any = None,
    refresh_s: float = 5.0,
    metrics: MetricsFn | None = None,
) -> FastAPI:
    """The dashboard, API, status page and hooks over ``store``; writes need ``token`` (None: read-only)."""
    from perfbook.web import api, api_incidents, hooks, lab_routes, pages, pages_incidents, status

    app = FastAPI(
        title="perfbook",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        description="perfbook's JSON API: the same functions as the CLI. Reads are open; "
        "every write needs `Authorization: Bearer $PERFBOOK_SERVE_TOKEN`.",
    )
    app.state.serve = ServeContext(cfg, store, Guard(token), lab, refresh_s, metrics)
    failures.install(app)
    app.add_middleware(_Limits)
    static = resources.files("perfbook.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (pages, pages_incidents, api, api_incidents, status, hooks):
        app.include_router(module.router)
    if lab is not None:
        app.include_router(lab_routes.router)
    if metrics is not None:
        app.add_api_route("/metrics", _metrics_route(metrics), methods=["GET"], include_in_schema=False)
    return app


def _metrics_route(metrics: MetricsFn) -> Callable[[], Any]:
    from fastapi.responses import Response

    def serve_metrics() -> Response:
        body, content_type = metrics()
        return Response(body, media_type=content_type)

    return serve_metrics
