"""The frontend probe against a real app serving a page and its assets; the frontend rule on it."""

from __future__ import annotations

import asyncio
import time

from perfbook.probes.frontend import FrontendProbe
from perfbook.rules.frontend import evaluate

from .servers import AppServer, Route, _Threaded, collect, make_config

PAGE = """<!doctype html><html><head>
<link rel="stylesheet" href="/static/app.css"><link rel="icon" href="/favicon.ico">
<script src="/static/app.js"></script><script src="{origin}/static/slow.js"></script>
<script>inline()</script></head><body>
<img src="img/logo.png" srcset="ignored.png 2x"><img src="/img/missing.png"><img src="data:image/png;base64,AAAA">
<script src="/static/app.js"></script></body></html>"""


def site(slow_s: float = 0.4, css_bytes: int = 200_000) -> dict[str, Route]:
    return {
        "/": Route(body=b"", content_type="text/html"),  # filled in once the port is known
        "/static/app.css": Route(body=b"x" * css_bytes, content_type="text/css"),
        "/favicon.ico": Route(body=b"ico"),
        "/static/app.js": Route(body=b"console.log(1)", content_type="application/javascript"),
        "/static/slow.js": Route(body=b"slow()", delay_s=slow_s, content_type="application/javascript"),
        "/img/logo.png": Route(body=b"png" * 100, delay_s=slow_s, content_type="image/png"),
        "/img/missing.png": Route(status=404, body=b"nope"),
    }


def serve_page(app: AppServer) -> None:
    html = PAGE.format(origin=app.url).encode()
    app.call(lambda: app.routes.__setitem__("/", Route(body=html, content_type="text/html")))


async def test_page_assets_are_fetched_concurrently_and_judged():
    with AppServer(routes=site()) as app:
        serve_page(app)
        cfg = make_config(frontend={"url": app.url + "/"}, thresholds={"asset_s": 0.2, "page_weight_mb": 0.1})
        ev = await collect(FrontendProbe(), cfg, window_s=0.5)
        url = app.url
    data = ev.data
    assert ev.status == "ok" and data.page_status == 200
    assert data.assets_found == 6 and data.assets_fetched == 6  # deduplicated, data: and inline left out
    assert {a.url for a in data.slowest[:2]} == {f"{url}/static/slow.js", f"{url}/img/logo.png"}
    assert data.slowest[1].duration_s >= 0.4
    assert [(a.url, a.status) for a in data.failed] == [(f"{url}/img/missing.png", 404)]
    assert data.total_bytes > 200_000 and data.cross_origin == 0
    # two 0.4 s assets fetched concurrently: the probe took less than their sum
    assert ev.duration_s < data.slowest[0].duration_s + data.slowest[1].duration_s
    (f,) = evaluate({"frontend": ev}, cfg)
    assert f.code == "frontend.slow_assets" and f.level.value == "warning" and f.subject == f"{url}/"
    assert "1 of 6 assets fail (/img/missing.png 404)" in f.title
    assert (
        f"slowest asset {data.slowest[0].url[len(url) :]} takes" in f.title
        and "page weight 0.2 MB" in f.title
    )
    assert (f.value, f.unit) == (1.0, "failed assets")
    assert f.actions[0].manual.startswith("curl") and f.actions[1].id == "manual.compress_assets"


async def test_a_healthy_page_gives_no_finding_and_max_assets_is_respected():
    routes = site(slow_s=0.0, css_bytes=10)
    routes.pop("/img/missing.png")
    routes["/img/missing.png"] = Route(body=b"found")
    with AppServer(routes=routes) as app:
        serve_page(app)
        cfg = make_config(frontend={"url": app.url + "/", "max_assets": 3})
        ev = await collect(FrontendProbe(), cfg)
    assert ev.data.assets_found == 6 and ev.data.assets_fetched == 3 and not ev.data.failed
    assert evaluate({"frontend": ev}, cfg) == []


async def test_an_asset_that_hangs_counts_as_timeout_and_the_probe_stays_bounded():
    with AppServer(
        routes={
            "/": Route(body=b'<script src="/hang"></script><img src="/ok.png">', content_type="text/html")
        }
    ) as app:
        cfg = make_config(frontend={"url": app.url + "/"}, http={"timeout_s": 0.4})
        started = time.monotonic()
        ev = await collect(FrontendProbe(), cfg, window_s=0.2)
        took_s = time.monotonic() - started
    (hung,) = ev.data.failed
    assert hung.error == "timeout" and hung.duration_s == 0.4
    assert took_s < 0.4 + 0.3
    (f,) = evaluate({"frontend": ev}, cfg)
    assert "/hang timeout" in f.title


async def test_a_failing_page_is_critical_and_an_unreachable_one_is_only_a_status(closed_port):
    with AppServer() as app:
        cfg = make_config(frontend={"url": app.url + "/status/503"})
        ev = await collect(FrontendProbe(), cfg)
    (f,) = evaluate({"frontend": ev}, cfg)
    assert f.level.value == "critical" and "the page answers 503" in f.title

    cfg = make_config(frontend={"url": f"http://127.0.0.1:{closed_port}/"})
    ev = await collect(FrontendProbe(), cfg)
    assert (ev.status, ev.reason) == ("unavailable", f"connection refused 127.0.0.1:{closed_port}")
    assert evaluate({"frontend": ev}, cfg) == []
    ev = await collect(FrontendProbe(), make_config(frontend={"url": ""}))
    assert (ev.status, ev.reason) == ("skipped", "no [frontend] url")


class ThrottledStatic(_Threaded):
    """A static server on 127.0.0.1: ``/`` is a page with one 8 MB image, and ``/hero.jpg`` declares
    its Content-Length (8,000,000) and sends the body at ``rate_bps`` bytes per second — a real
    slow link, as a CDN far away or a saturated uplink makes it."""

    IMAGE_BYTES = 8_000_000

    def __init__(self, rate_bps: int = 200_000) -> None:
        self.rate_bps = rate_bps
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1]
                if path == b"/hero.jpg":
                    await self._trickle(writer)
                    return
                page = b'<!doctype html><html><body><img src="/hero.jpg"></body></html>'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(page), page)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % self.IMAGE_BYTES
        )
        chunk, sent = self.rate_bps // 20, 0
        while sent < self.IMAGE_BYTES:
            writer.write(b"\xff" * min(chunk, self.IMAGE_BYTES - sent))
            sent += chunk
            await writer.drain()
            await asyncio.sleep(0.05)


async def test_an_8_mb_image_that_times_out_still_weighs_its_declared_length():
    with ThrottledStatic(rate_bps=200_000) as site:
        cfg = make_config(frontend={"url": site.url + "/"}, http={"timeout_s": 1.0})
        ev = await collect(FrontendProbe(), cfg, window_s=0.2)
        url = site.url
    (hero,) = ev.data.failed
    assert hero.url == f"{url}/hero.jpg" and hero.error == "timeout" and hero.status == 200
    assert hero.declared_bytes == 8_000_000 and hero.size_bytes == 8_000_000
    assert 0 < hero.seen_bytes < 1_000_000  # ~200 KB in its second
    assert ev.data.total_bytes >= 8_000_000 and ev.data.heaviest[0].url == hero.url
    assert ev.data.slowest[0].size_bytes == 8_000_000
    (f,) = evaluate({"frontend": ev}, cfg)
    assert "page weight 8.0 MB (limit 5 MB; heaviest /hero.jpg, 8.0 MB declared, 0." in f.title
    assert "1 of 1 assets fail (/hero.jpg timeout)" in f.title
    assert "slowest asset /hero.jpg takes 1.00 s or more (timed out) (limit 1 s), 8.0 MB declared" in f.title
    assert f.evidence["heaviest"][0]["declared_bytes"] == 8_000_000
