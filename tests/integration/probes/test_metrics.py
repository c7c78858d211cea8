"""The metrics probe against a real instrumented app and against scripted pages."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from perfbook.probes.metrics import MetricsProbe

from .servers import AppServer, Route, collect, make_config


async def drive(app: AppServer, paths: list[str], duration_s: float, concurrency: int = 4) -> int:
    """After the probe's first scrape, send requests round-robin over ``paths`` for ``duration_s``."""
    for _ in range(200):  # poll until the window has started, never sleep-and-hope
        if app.scrapes:
            break
        await asyncio.sleep(0.01)
    url, sent = app.url, 0
    deadline = time.monotonic() + duration_s

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal sent
        i = offset
        while time.monotonic() < deadline and sent < 500:
            await client.get(url + paths[i % len(paths)])
            sent += 1
            i += 1

    async with httpx.AsyncClient(timeout=5) as client:
        await asyncio.gather(*(worker(client, k) for k in range(concurrency)))
    return sent


def handler(ev, name):
    return next(h for h in ev.data.handlers if h.handler == name)


async def test_a_lifetime_fast_service_that_is_slow_now_shows_slow():
    with AppServer(routes={"/api/v1/users": Route(delay_s=0.3)}) as app:
        app.seed("/api/v1/users", 20_000, 0.01)  # lifetime p95: 10 ms
        cfg = make_config(http={"base_url": app.url})
        ev, sent = await asyncio.gather(
            collect(MetricsProbe(), cfg, window_s=1.2), drive(app, ["/api/v1/users"], 0.8)
        )
    assert ev.status == "ok", ev.reason
    users = handler(ev, "/api/v1/users")
    assert users.method == "GET" and 4 <= users.requests <= sent
    assert 0.25 < users.p95_s <= 0.5 and not users.p95_over_bound
    assert ev.data.total.requests == users.requests  # /metrics (perfbook's own scrapes) left out
    assert ev.data.total.histogram == "http_request_duration_seconds"
    assert ev.data.window_s == pytest.approx(1.2, abs=0.1)


async def test_a_five_xx_share_that_changes_during_the_window():
    with AppServer() as app:
        app.seed("/api/v1/agents", 10_000, 0.01, status="2xx")
        app.seed("/api/v1/agents", 5, 0.01, status="5xx")  # lifetime share: 0.05 %
        app.fail_every = 2
        cfg = make_config(http={"base_url": app.url})
        ev, _ = await asyncio.gather(
            collect(MetricsProbe(), cfg, window_s=1.0), drive(app, ["/api/v1/agents"], 0.6, concurrency=2)
        )
    agents = handler(ev, "/api/v1/agents")
    assert agents.requests >= 20
    assert agents.error_share == pytest.approx(0.5, abs=0.05)
    assert ev.data.total.errors_5xx == agents.errors_5xx


PAGE = """# TYPE http_requests_total counter
http_requests_total{{path="/api/v1/users",code="200"}} {ok}
http_requests_total{{path="/api/v1/users",code="500"}} {err}
"""


async def test_a_counter_that_goes_down_marks_the_probe_partial():
    pages = [PAGE.format(ok=90_000, err=100), PAGE.format(ok=12, err=1)]  # restarted between scrapes
    with AppServer(metrics_pages=pages) as app:
        ev = await collect(MetricsProbe(), make_config(http={"base_url": app.url}), window_s=0.2)
    assert ev.status == "partial" and "counter reset" in ev.reason
    assert ev.data.reset_detected and ev.data.reset_series
    assert all(h.rate_rps >= 0 and h.requests >= 0 for h in ev.data.handlers)
    assert ev.data.total.error_share is None  # nothing trustworthy left, not a made-up share


async def test_counter_only_pages_give_rates_and_shares_with_other_label_spellings():
    pages = [PAGE.format(ok=1000, err=10), PAGE.format(ok=1090, err=20)]
    with AppServer(metrics_pages=pages) as app:
        ev = await collect(MetricsProbe(), make_config(http={"base_url": app.url}), window_s=0.5)
    users = handler(ev, "/api/v1/users")
    assert (users.requests, users.errors_5xx, users.error_share) == (100, 10, 0.1)
    assert users.p95_s is None and ev.status == "ok"
    assert any("no request-duration histogram" in n for n in ev.data.notes)


async def test_a_malformed_page_is_reported_with_url_and_line_never_raised():
    bad = PAGE.format(ok=1, err=0) + 'http_requests_total{path="/x" code=500} 1\n'
    with AppServer(metrics_pages=[bad, bad]) as app:
        ev = await collect(MetricsProbe(), make_config(http={"base_url": app.url}), window_s=0.2)
        url = app.url
    assert ev.status == "partial"
    assert ev.reason.startswith(f"malformed metrics at {url}/metrics line 4:")
    assert ev.data.bad_lines == ['line 4: http_requests_total{path="/x" code=500} 1']


async def test_a_page_that_is_not_metrics_at_all_is_unavailable():
    with AppServer(metrics_pages=["<html>\n<body>login</body>\n</html>\n"]) as app:
        ev = await collect(MetricsProbe(), make_config(http={"base_url": app.url}), window_s=0.1)
    assert ev.status == "unavailable" and "line 1" in ev.reason


async def test_not_configured_missing_and_unreachable(closed_port):
    ev = await collect(MetricsProbe(), make_config(http={"metrics_path": ""}), window_s=0.1)
    assert (ev.status, ev.reason) == ("skipped", "no [http] metrics_path")
    with AppServer() as app:
        ev = await collect(
            MetricsProbe(), make_config(http={"base_url": app.url, "metrics_path": "/status/404"})
        )
    assert ev.status == "unavailable" and ev.reason.endswith("/status/404 answered 404")
    ev = await collect(MetricsProbe(), make_config(http={"base_url": f"http://127.0.0.1:{closed_port}"}))
    assert (ev.status, ev.reason) == ("unavailable", f"connection refused 127.0.0.1:{closed_port}")


async def test_a_metrics_endpoint_that_never_answers_ends_within_timeout():
    with AppServer(silent=True) as app:
        cfg = make_config(http={"base_url": app.url, "timeout_s": 0.4})
        started = time.monotonic()
        ev = await collect(MetricsProbe(), cfg, window_s=0.5)
        took_s = time.monotonic() - started
    assert ev.status == "unavailable" and ev.reason.startswith("no answer within 0.4 s from 127.0.0.1:")
    assert took_s < 0.4 + 0.3
