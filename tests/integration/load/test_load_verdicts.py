"""``perfbook load`` exit codes that tell the truth (#12): failures, interim responses, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from load_servers import LocalServer, ServerConfig


def test_a_server_that_never_answers_is_a_failed_run(perfbook):
    with LocalServer(ServerConfig(mode="silent")) as srv:
        res = perfbook("load", srv.url, "-d", "1s", "-c", "2", "--timeout", "0.3s", "--json")
    assert res.exit_code == 3, res.stderr
    assert res.json["failed"].startswith("all ") and "timeout" in res.json["failed"]
    assert res.stderr.startswith("load: all ")


@pytest.mark.parametrize("status", [302, 404, 503])
def test_every_request_failed_is_exit_3_whatever_the_status(perfbook, status):
    """A redirect loop, a missing page, an outage: 100 % failed, never exit 0."""
    with LocalServer(ServerConfig(mode="status", status=status)) as srv:
        res = perfbook("load", srv.url, "-n", "50", "-c", "2", "--json")
    assert res.exit_code == 3
    assert res.json["failed"] == f"all 50 requests failed ({status} 50)"


def test_an_error_rate_over_abort_on_errors_fails_even_before_the_live_abort(perfbook):
    """Fewer requests than the live abort needs: the verdict at the end still counts."""
    with LocalServer(ServerConfig(mode="status", status=500)) as srv:
        res = perfbook("load", srv.url, "-n", "20", "-c", "1", "--abort-on-errors", "10%", "--json")
    assert res.exit_code == 3 and res.json["requests"] == 20


def test_interim_responses_are_not_responses_and_n_stays_exact(perfbook):
    with LocalServer(ServerConfig(mode="interim")) as srv:
        res = perfbook("load", srv.url, "-n", "1000", "-c", "4", "--json")
        sent = srv.count
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["requests"] == 1000 and sent == 1000
    assert doc["status_codes"] == {"200": 1000} and doc["interim_responses"] == 1000
    assert doc["error_rate"] == 0 and doc["failed"] is None


def _load_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "perfbook", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(srv: LocalServer, requests: int) -> None:
    deadline = time.monotonic() + 20
    while srv.count < requests and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_load_within_a_second_with_its_partial_result(tmp_path, sig, code):
    out = tmp_path / "partial.json"
    with LocalServer(ServerConfig(delay_s=0.5)) as srv:  # requests in flight when the signal comes
        proc = _load_process("load", srv.url, "-d", "60s", "-c", "4", "-o", str(out))
        _wait_for(srv, 8)
        sent_at = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=15)
        took_s = time.monotonic() - sent_at
    assert proc.returncode == code, err
    assert took_s < 1.0 + 0.5  # a second to stop, and the interpreter's exit
    assert "Traceback" not in err and "semaphore" not in err
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and doc["responses"] > 0


def test_sigterm_ends_a_multi_worker_load_cleanly(tmp_path):
    out = tmp_path / "partial.json"
    with LocalServer(ServerConfig(delay_s=0.2)) as srv:
        proc = _load_process("load", srv.url, "-d", "60s", "-c", "4", "--workers", "2", "-o", str(out))
        _wait_for(srv, 20)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "leaked" not in err
    assert json.loads(out.read_text())["interrupted"] is True


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_capacity_search_within_a_second(sig, code):
    with LocalServer(ServerConfig(delay_s=0.05)) as srv:
        proc = _load_process(
            "capacity",
            srv.url,
            "--slo",
            "p95<1s",
            "--step-duration",
            "5s",
            "--start-rate",
            "20",
            "--max-duration",
            "60s",
            "--no-plot",
            "--json",
        )
        _wait_for(srv, 30)
        sent_at = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        took_s = time.monotonic() - sent_at
    assert proc.returncode == code, err
    assert took_s < 1.0 + 0.5
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["reason"] == "interrupted"
