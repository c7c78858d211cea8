"""The load generator against real local HTTP servers: counts, error classes, bodies, workers, pacing."""

from __future__ import annotations

import socket
import time

import pytest
from load_servers import LocalServer, ServerConfig

from perfbook.load.options import LoadOptions, make_run
from perfbook.load.runner import run_load


def run(url: str, **kw):
    kw.setdefault("abort_on_errors", 0.0)
    load_run, _ = make_run(LoadOptions(url=url, **kw))
    return run_load(load_run).to_json()


def free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exact_count_and_status_codes():
    with LocalServer() as srv:
        doc = run(srv.url + "/health", requests=5000, connections=10)
        assert srv.count == 5000
    assert doc["requests"] == doc["responses"] == 5000
    assert doc["status_codes"] == {"200": 5000}
    assert doc["errors"] == dict.fromkeys(doc["errors"], 0)
    assert doc["bytes"] > 5000 * 60
    lat = doc["latency"]
    assert 0 < lat["p50_s"] <= lat["p90_s"] <= lat["p95_s"] <= lat["p99_s"] <= lat["p999_s"] <= lat["max_s"]
    assert doc["latency_uncorrected"] == lat  # closed loop: nothing to correct


def test_keepalive_reuses_connections_and_no_keepalive_does_not():
    with LocalServer() as srv:
        doc = run(srv.url, requests=200, connections=2, keepalive=False)
        assert doc["responses"] == 200 and srv.count == 200


def test_refused_port_is_connect_refused():
    doc = run(f"http://127.0.0.1:{free_closed_port()}/", requests=50, connections=5)
    assert doc["errors"]["connect_refused"] == 50
    assert doc["requests"] == 50 and doc["responses"] == 0
    assert doc["latency"]["p50_s"] is None


def test_reset_is_reset():
    with LocalServer(ServerConfig(mode="reset")) as srv:
        doc = run(srv.url, requests=40, connections=4)
    assert doc["errors"]["reset"] == 40
    assert doc["responses"] == 0


def test_silent_server_is_timeout():
    with LocalServer(ServerConfig(mode="silent")) as srv:
        started = time.perf_counter()
        doc = run(srv.url, requests=4, connections=2, timeout="0.3s")
    assert doc["errors"]["timeout"] == 4
    assert doc["error_examples"]["timeout"] == "no response within 0.3s"
    assert time.perf_counter() - started < 3


def test_500_counts_as_non_2xx_and_error_rate():
    with LocalServer(ServerConfig(mode="status", status=500)) as srv:
        doc = run(srv.url, requests=300, connections=3)
    assert doc["status_codes"] == {"500": 300}
    assert doc["errors"]["non_2xx"] == 300
    assert doc["error_rate"] == 1.0


def test_abort_on_errors_stops_a_failing_run():
    with LocalServer(ServerConfig(mode="status", status=503)) as srv:
        doc = run(srv.url, duration="5s", connections=4, abort_on_errors=0.5)
    assert doc["aborted"] and "error rate" in doc["aborted"]
    assert doc["duration_s"] < 2


def test_post_body_and_headers_arrive_as_sent(tmp_path):
    body = tmp_path / "test_data.json"
    body.write_text('{"name": "Test User", "email": "test@example.com"}')
    with LocalServer(ServerConfig(mode="echo")) as srv:
        doc = run(
            srv.url + "/api/v1/users?x=1",
            requests=20,
            connections=2,
            method="POST",
            json_body=f"@{body}",
            headers=["Authorization: Bearer t0k", "X-Trace: 42"],
        )
        received = list(srv.received)
    assert doc["responses"] == 20 and len(received) == 20
    for req in received:
        assert (req.method, req.path) == ("POST", "/api/v1/users?x=1")
        assert req.body == body.read_bytes()
        assert req.headers["content-type"] == "application/json"
        assert req.headers["authorization"] == "Bearer t0k" and req.headers["x-trace"] == "42"
        assert req.headers["host"] == f"127.0.0.1:{srv.port}"


def test_head_completes_on_headers():
    with LocalServer() as srv:
        doc = run(srv.url, requests=50, connections=2, method="HEAD")
    assert doc["responses"] == 50 and doc["status_codes"] == {"200": 50}


def test_workers_merge_to_the_same_totals():
    with LocalServer() as srv:
        doc = run(srv.url, requests=3001, connections=4, workers=2)
        assert srv.count == 3001
        paced = run(srv.url, rate="400", duration="1s", connections=4, workers=2)
    assert paced["workers"] == 2 and abs(paced["responses"] - 400) <= 4  # --rate is the total
    assert doc["workers"] == 2
    assert doc["requests"] == doc["responses"] == 3001
    assert doc["status_codes"] == {"200": 3001}
    assert doc["latency"]["p99_s"] > 0


def test_duration_bounds_a_closed_loop_run():
    with LocalServer() as srv:
        started = time.perf_counter()
        doc = run(srv.url, duration="0.5s", connections=4)
    assert 0.45 < doc["duration_s"] < 1.5 and time.perf_counter() - started < 3
    assert doc["responses"] > 100


def test_rate_is_held():
    with LocalServer() as srv:
        doc = run(srv.url, rate="400", duration="1s", connections=4)
    assert doc["mode"] == "open" and doc["rate_rps"] == 400
    assert abs(doc["responses"] - 400) <= 8  # the schedule sends exactly rate × duration
    assert 0.9 < doc["rps"] / 400 < 1.05  # rps counts the drain of the last responses too


def test_one_stall_shows_in_corrected_p99_not_uncorrected():
    # One connection allowed (--max-connections 1) at 200 rps; one request stalls 1 s, so the ~200
    # requests due meanwhile wait for the connection: a third of 600 are late by 0-1 s once corrected.
    # (With more connections allowed, the pool would grow past the stall and nothing would be late.)
    with LocalServer(ServerConfig(mode="stall_once", stall_s=1.0, stall_after=100)) as srv:
        doc = run(srv.url, rate="200", duration="3s", connections=1, max_connections=1, timeout="5s")
    assert doc["responses"] == 600 and doc["rate"]["waited"] > 100 and doc["rate"]["kept"]
    assert doc["latency"]["p99_s"] > 0.5
    assert doc["latency_uncorrected"]["p99_s"] < 0.3
    assert doc["latency"]["max_s"] >= 0.99 and doc["latency_uncorrected"]["max_s"] >= 0.99


def test_open_loop_resends_when_the_server_closes_idle_connections():
    # 10 rps per connection, and the server drops a connection idle for 30 ms: each send finds
    # its connection gone and must go out on a new one, not vanish
    with LocalServer(ServerConfig(idle_close_s=0.03)) as srv:
        doc = run(srv.url, rate="20", duration="1s", connections=2)
    assert doc["responses"] == 20 and doc["requests"] == 20


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({"stages": "0.5s@100,0.5s@300"}, 200), ({"rate": "100:300:1s"}, 200)],
)
def test_stages_and_ramps_send_their_schedule(flags, expected):
    with LocalServer() as srv:
        doc = run(srv.url, connections=4, **flags)
    assert abs(doc["responses"] - expected) <= 4
    assert doc["mode"] == "open" and doc["rate_rps"] == 300 and len(doc["stages"]) >= 1


def test_https_with_and_without_verification(tmp_path):
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    with LocalServer(ssl_context=ctx) as srv:
        insecure = run(srv.url, requests=50, connections=2, verify_tls=False)
        verified = run(srv.url, requests=4, connections=2)
    assert insecure["responses"] == 50 and insecure["status_codes"] == {"200": 50}
    assert verified["errors"]["connect_error"] == 4  # self-signed: verification fails, as it should
    assert "CERTIFICATE_VERIFY_FAILED" in verified["error_examples"]["connect_error"]
