"""``perfbook triage`` end to end against real HTTP servers on 127.0.0.1, as a user runs it."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from probes.servers import AppServer, Route

from perfbook.report.json import validate_report


def write_config(
    tmp_path: Path, base_url: str, *, endpoints: list[str], timeout_s: float = 5.0, extra: str = ""
) -> Path:
    path = tmp_path / "perfbook.toml"
    path.write_text(
        f'[http]\nbase_url = "{base_url}"\nendpoints = {json.dumps(endpoints)}\ntimeout_s = {timeout_s}\n'
        f'[frontend]\nurl = ""\n{extra}'
    )
    return path


def traffic(url: str, seconds: float) -> threading.Thread:
    """Real client traffic during the window, so the app's metrics have something to show."""

    def run() -> None:
        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                client.get(url)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_slow_endpoint_and_5xx_share_are_both_named(perfbook, tmp_path):
    with AppServer(routes={"/api/v1/slow": Route(delay_s=2.3)}) as app:
        app.fail_every = 10  # 10 % of /api/* answers 503
        cfg = write_config(tmp_path, app.url, endpoints=["/health", "/api/v1/slow", "/api/v1/users"])
        background = traffic(f"{app.url}/api/v1/users", 3.0)
        time.sleep(0.3)
        result = perfbook(
            "triage", "--config", str(cfg), "--only", "http,metrics", "--window", "2s", "--json"
        )
        background.join()
    report = result.json
    validate_report(report)
    keys = {f"{f['code']}:{f['subject']}" for f in report["findings"]}
    assert "http.slow_response:/api/v1/slow" in keys
    assert "http.error_rate_high:/api/v1/users" in keys
    assert report["severity"] == "P1"  # 10 % 5xx over >= 20 requests beats the 2.3 s p95 (P2)
    assert report["severity_reason"].startswith("http.error_rate_high")
    assert report["issue_types"] == ["high_response_time"]
    assert result.exit_code == 3  # default --fail-on P2


def test_terminal_report_shows_severity_findings_and_fixes(perfbook, tmp_path):
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.2)}) as app:
        cfg = write_config(tmp_path, app.url, endpoints=["/api/v1/slow"])
        result = perfbook("triage", "--config", str(cfg), "--only", "http", "--window", "1s")
    assert result.exit_code == 0  # P3 is below the default cut P2
    assert "P3" in result.stdout and "http.slow_response" in result.stdout and "manual:" in result.stdout
    assert result.stderr == ""


def test_unreachable_backend_is_p0(perfbook, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = write_config(tmp_path, f"http://127.0.0.1:{port}", endpoints=["/health"])
    result = perfbook("triage", "--config", str(cfg), "--only", "http,metrics", "--window", "0.5s", "--json")
    report = result.json
    validate_report(report)
    assert report["severity"] == "P0" and result.exit_code == 3
    assert [f["code"] for f in report["findings"]] == ["http.unreachable"]
    assert "refused" in report["probes"]["http"]["reason"]


def test_server_that_never_answers_ends_within_budget(perfbook, tmp_path):
    with AppServer(silent=True) as app:
        cfg = write_config(tmp_path, app.url, endpoints=["/health", "/api/v1/users"], timeout_s=1.0)
        started = time.monotonic()
        result = perfbook(
            "triage", "--config", str(cfg), "--only", "http,metrics", "--window", "1s", "--json"
        )
        elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 1.0 + 1.0  # window + timeout_s + 1 s (docs/architecture.md, time budgets)
    report = result.json
    validate_report(report)
    assert report["severity"] == "P0"
    assert report["findings"][0]["code"] == "http.unreachable"


def test_malformed_metrics_page_is_reported_not_a_crash(perfbook, tmp_path):
    page = '# TYPE http_requests_total counter\nhttp_requests_total{handler="/a" 12\nthis is not metrics\n'
    with AppServer(metrics_pages=[page]) as app:
        cfg = write_config(tmp_path, app.url, endpoints=["/health"])
        result = perfbook(
            "triage", "--config", str(cfg), "--only", "http,metrics", "--window", "0.5s", "--json"
        )
    report = result.json
    validate_report(report)
    metrics = report["probes"]["metrics"]
    assert metrics["status"] in ("partial", "unavailable") and "line" in metrics["reason"]
    assert report["severity"] == "OK" and result.exit_code == 0


def test_bad_config_value_is_one_line_and_exit_2(perfbook, tmp_path):
    path = tmp_path / "perfbook.toml"
    path.write_text("[thresholds]\np95_s = -1\n")
    result = perfbook("triage", "--config", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:2: thresholds.p95_s")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_markdown_report_and_unwritable_path(perfbook, tmp_path):
    with AppServer() as app:
        cfg = write_config(tmp_path, app.url, endpoints=["/health"])
        out = tmp_path / "incident.md"
        ok = perfbook(
            "triage", "--config", str(cfg), "--only", "http", "--window", "0.3s", "--markdown", str(out)
        )
        bad = perfbook(
            "triage",
            "--config",
            str(cfg),
            "--only",
            "http",
            "--window",
            "0.3s",
            "--markdown",
            str(tmp_path / "missing" / "x.md"),
        )
    assert ok.exit_code == 0 and out.read_text().startswith("# perfbook triage: OK")
    assert (
        bad.exit_code == 2 and bad.stderr.startswith("error: --markdown ") and "does not exist" in bad.stderr
    )
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fail-on", "P5"], "--fail-on must be one of"),
        (["--window", "soon"], "--window: not a duration"),
        (["--only", "nosuch"], "--only: unknown probe nosuch"),
    ],
)
def test_bad_flags_are_one_line(perfbook, args, message):
    result = perfbook("triage", *args)
    assert result.exit_code == 2 and message in result.stderr
