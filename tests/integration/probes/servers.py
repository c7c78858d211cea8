"""Real servers for the probe tests: asyncio on 127.0.0.1, port 0, in a thread; ready before use.

``AppServer`` is a small HTTP/1.1 app (keep-alive):
  /health             ``health_status`` (200)
  /slow?delay=S       answers after S seconds
  /status/NNN         answers NNN
  /hang               accepts, reads, never answers
  /metrics            ``metrics_pages[k]`` for the k-th scrape (the last one repeats), else the
                      app's own live instrumentation (a prometheus_client registry of every request)
  anything in ``routes``  a fixed Route(status, body, delay_s, content_type); else 200 "ok"
With ``silent=True`` it accepts connections and never answers anything.

``WsServer`` is a WebSocket echo server (websockets library) with a per-message ``delay_s`` and
``reject=True`` to refuse every handshake with 403. ``DelayProxy`` puts a slow network in front
of either. ``make_config`` and ``collect`` run a probe the way triage does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from perfbook.config import Config
from perfbook.model import Evidence
from perfbook.probes.base import ProbeContext, run_probe


def make_config(**sections: dict[str, Any]) -> Config:
    """A Config from section dicts: ``make_config(http={"base_url": url}, thresholds={...})``."""
    return Config.model_validate(sections)


async def collect(probe: Any, cfg: Config, window_s: float = 0.5) -> Evidence:
    """Run ``probe`` as triage does: run_probe with window + timeout_s + 1 s and that deadline."""
    budget_s = window_s + cfg.http.timeout_s + 1.0
    ctx = ProbeContext(config=cfg, window_s=window_s, deadline=time.monotonic() + budget_s)
    return await run_probe(probe, ctx, budget_s)


REASONS = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Route:
    status: int = 200
    body: bytes = b"ok"
    delay_s: float = 0.0
    content_type: str = "text/plain"


class _Threaded:
    """Runs ``self._start()`` (a coroutine returning the port) on a private loop in a thread."""

    def __enter__(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.port = self.loop.run_until_complete(self._start())
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def call(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` on the server's loop (to change what it serves mid-test), and wait."""

        async def wrapped():
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(5)


class AppServer(_Threaded):
    """``with AppServer() as app: app.url`` — see the module docstring for the routes."""

    def __init__(
        self,
        *,
        silent: bool = False,
        routes: dict[str, Route] | None = None,
        metrics_pages: list[str] | None = None,
        health_status: int = 200,
    ) -> None:
        self.silent = silent
        self.routes = dict(routes or {})
        self.metrics_pages = metrics_pages
        self.health_status = health_status
        self.scrapes = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self.fail_every = 0  # when > 0, every n-th request to /api/* answers 503
        self._conns: set[asyncio.StreamWriter] = set()
        self._count = 0
        self._instrument()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _instrument(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "http_request_duration_seconds",
            "latency",
            ["handler", "method"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.requests_total = Counter(
            "http_requests_total", "requests", ["handler", "method", "status"], registry=self.registry
        )

    def seed(self, handler: str, n: int, duration_s: float, status: str = "2xx") -> None:
        """Give the app a lifetime: ``n`` past requests of ``duration_s`` each."""
        for _ in range(n):
            self.latency.labels(handler, "GET").observe(duration_s)
        self.requests_total.labels(handler, "GET", status).inc(n)

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()
        for writer in list(self._conns):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if self.silent:
                    await asyncio.Event().wait()
                method, target, headers = _parse_head(head)
                if int(headers.get("content-length", "0")):
                    await reader.readexactly(int(headers["content-length"]))
                self.requests.append((method, target, headers))
                started = time.monotonic()
                status, body, ctype = await self._respond(method, target)
                writer.write(_response(status, body, ctype))
                await writer.drain()
                self._record(method, target, status, time.monotonic() - started)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()

    async def _respond(self, method: str, target: str) -> tuple[int, bytes, str]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/health":
            return self.health_status, b"ok", "text/plain"
        if path == "/slow":
            await asyncio.sleep(float(query.get("delay", ["0.5"])[0]))
            return 200, b"slow", "text/plain"
        if path.startswith("/status/"):
            return int(path.rsplit("/", 1)[1]), b"status", "text/plain"
        if path == "/hang":
            await asyncio.Event().wait()
        if path == "/metrics":
            return 200, self._metrics_page(), "text/plain; version=0.0.4"
        if path in self.routes:
            route = self.routes[path]
            await asyncio.sleep(route.delay_s)
            return route.status, route.body, route.content_type
        self._count += 1
        if self.fail_every and path.startswith("/api/") and self._count % self.fail_every == 0:
            return 503, b"unavailable", "text/plain"
        return 200, b"ok", "text/plain"

    def _metrics_page(self) -> bytes:
        self.scrapes += 1
        if self.metrics_pages:
            return self.metrics_pages[min(self.scrapes, len(self.metrics_pages)) - 1].encode()
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def _record(self, method: str, target: str, status: int, duration_s: float) -> None:
        handler = urlsplit(target).path
        self.latency.labels(handler, method).observe(duration_s)
        self.requests_total.labels(handler, method, f"{status // 100}xx").inc()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return method, target, headers


def _response(status: int, body: bytes, ctype: str) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


class WsServer(_Threaded):
    """``with WsServer(delay_s=0.2) as ws: ws.url`` — echoes every message after ``delay_s``."""

    def __init__(self, *, delay_s: float = 0.0, reject: bool = False) -> None:
        self.delay_s = delay_s
        self.reject = reject
        self.messages = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def _start(self) -> int:
        from websockets.asyncio.server import serve

        self._closing = asyncio.Event()
        self._server = await serve(self._echo, "127.0.0.1", 0, process_request=self._gate)
        return self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._closing.set()  # ends handlers still "thinking", so the test never waits for them
        self._server.close()
        await self._server.wait_closed()

    def _gate(self, connection, request):
        if self.reject:
            return connection.respond(403, "forbidden\n")
        return None

    async def _echo(self, ws) -> None:
        async for message in ws:
            self.messages += 1
            try:
                await asyncio.wait_for(self._closing.wait(), self.delay_s)
                return
            except TimeoutError:
                await ws.send(message)


class DelayProxy(_Threaded):
    """A TCP proxy to 127.0.0.1:``target_port`` that holds every server→client chunk ``delay_s``.

    A slow network made for real (like ``tc netem``): pongs, echoes and handshakes all arrive late.
    """

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self._writers: set[asyncio.StreamWriter] = set()

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pipe(client_r, server_w, 0.0),
            self._pipe(server_r, client_w, self.delay_s),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
        try:
            while chunk := await reader.read(65536):
                await asyncio.sleep(delay_s)
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()
