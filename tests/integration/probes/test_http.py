"""The http probe against real servers: latency, statuses, headers, hangs and an unreachable backend."""

from __future__ import annotations

import json
import time

from perfbook.model import jsonable
from perfbook.probes.http import HttpProbe

from .servers import AppServer, collect, make_config


def by_path(ev):
    return {e.path: e for e in ev.data.endpoints}


async def test_times_each_endpoint_across_the_window_with_one_in_flight():
    with AppServer() as app:
        cfg = make_config(
            http={
                "base_url": app.url,
                "endpoints": ["/health", "/api/v1/users", "/slow?delay=0.3"],
                "samples_per_endpoint": 5,
                "timeout_s": 2.0,
            }
        )
        started = time.monotonic()
        ev = await collect(HttpProbe(), cfg, window_s=1.0)
        took_s = time.monotonic() - started
    assert ev.status == "ok" and ev.data.reachable
    assert ev.data.health.ok and ev.data.health.status == 200
    eps = by_path(ev)
    fast, slow = eps["/api/v1/users"], eps["/slow?delay=…"]  # query values are masked in evidence
    assert fast.requests == 5 and fast.statuses == {"200": 5} and fast.p95_s < 0.2
    assert 3 <= slow.requests <= 4  # 0.3 s answers overrun the 0.2 s slots: one in flight
    assert 0.3 <= slow.p50_s <= slow.p95_s <= slow.max_s < 0.6
    assert fast.connect_s is not None and fast.first_byte_s is not None
    assert 0.8 <= took_s < 1.0 + 0.5  # spread over the window, not sent at once


async def test_statuses_and_expected_status_count_as_unexpected():
    with AppServer() as app:
        cfg = make_config(
            http={
                "base_url": app.url,
                "samples_per_endpoint": 3,
                "endpoints": [
                    "/status/503",
                    {"path": "/api/created", "method": "POST", "expect_status": 201},
                    "/status/404",
                ],
            }
        )
        ev = await collect(HttpProbe(), cfg, window_s=0.3)
        methods = {(m, p) for m, p, _ in app.requests}
    eps = by_path(ev)
    assert eps["/status/503"].statuses == {"503": 3} and eps["/status/503"].unexpected == 3
    assert eps["/api/created"].method == "POST" and eps["/api/created"].unexpected == 3
    assert eps["/status/404"].unexpected == 0  # only 5xx is unexpected without expect_status
    assert ("POST", "/api/created") in methods


async def test_headers_come_from_the_named_env_var_and_never_appear_in_evidence(monkeypatch):
    monkeypatch.setenv("API_HEADERS", "Authorization: Bearer s3cret-token\nX-Team: core")
    with AppServer() as app:
        cfg = make_config(
            http={
                "base_url": app.url,
                "samples_per_endpoint": 1,
                "endpoints": [
                    {"path": "/api/v1/users", "headers_env": "API_HEADERS"},
                    {"path": "/api/v1/agents", "headers_env": "NOT_SET_ANYWHERE"},
                ],
            }
        )
        ev = await collect(HttpProbe(), cfg, window_s=0.2)
        sent = {p: h for _, p, h in app.requests}
    assert sent["/api/v1/users"]["authorization"] == "Bearer s3cret-token"
    assert "authorization" not in sent["/api/v1/agents"]
    text = json.dumps(jsonable(ev))
    assert "s3cret" not in text
    assert "NOT_SET_ANYWHERE is not set" in by_path(ev)["/api/v1/agents"].notes[0]


async def test_unreachable_backend_is_unavailable_with_data_for_the_rule(closed_port):
    cfg = make_config(http={"base_url": f"http://127.0.0.1:{closed_port}", "samples_per_endpoint": 3})
    started = time.monotonic()
    ev = await collect(HttpProbe(), cfg, window_s=0.5)
    assert ev.status == "unavailable"
    assert ev.reason == f"connection refused 127.0.0.1:{closed_port}"
    assert ev.data.reachable is False and ev.data.health.error == "connect_refused"
    assert all(e.errors == {"connect_refused": e.requests} and e.p95_s is None for e in ev.data.endpoints)
    assert time.monotonic() - started < 1.0


async def test_a_server_that_never_answers_ends_within_window_plus_timeout():
    with AppServer(silent=True) as app:
        cfg = make_config(http={"base_url": app.url, "timeout_s": 0.5})
        started = time.monotonic()
        ev = await collect(HttpProbe(), cfg, window_s=0.5)
        took_s = time.monotonic() - started
    assert ev.status == "unavailable" and ev.reason.startswith("no answer within 0.5 s from 127.0.0.1:")
    assert ev.data.reachable is False and ev.data.health.error == "timeout"
    for timing in ev.data.endpoints:
        assert timing.p95_s == 0.5 and timing.errors == {"timeout": timing.requests}  # counts as timeout_s
    assert took_s < 0.5 + 0.5 + 0.3


async def test_one_hanging_endpoint_on_a_live_backend_counts_as_timeout_s():
    with AppServer() as app:
        cfg = make_config(
            http={"base_url": app.url, "timeout_s": 0.4, "endpoints": ["/hang", "/api/v1/users"]}
        )
        ev = await collect(HttpProbe(), cfg, window_s=0.5)
    assert ev.status == "ok" and ev.data.reachable
    hang = by_path(ev)["/hang"]
    assert hang.requests == 2 and hang.p95_s == 0.4 and hang.unexpected == 2
    assert hang.errors == {"timeout": 2}


async def test_query_values_never_reach_the_evidence():
    """An e-mail search endpoint: the address is personal data, so evidence keeps only the parameter name."""
    with AppServer() as app:
        cfg = make_config(
            http={"base_url": app.url, "endpoints": ["/api/v1/users?email=ann.lee@example.com"]}
        )
        ev = await collect(HttpProbe(), cfg, window_s=0.3)
    (ep,) = ev.data.endpoints
    assert ep.path == "/api/v1/users?email=…" and "ann.lee" not in ep.url
    assert app.requests[-1][1] == "/api/v1/users?email=ann.lee@example.com"  # the real request was sent
