"""``load`` and ``capacity`` with ``--incident`` against a real HTTP server (the standard library's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/health"
    server.shutdown()
    server.server_close()


def test_load_and_capacity_runs_tick_testing_and_a_missed_slo_is_flagged(
    perfbook, tmp_path: Path, url: str
) -> None:
    env = {"PERFBOOK_STORE_URL": f"sqlite:///{tmp_path / 'perfbook.db'}", "PERFBOOK_INCIDENT": "INC-1"}
    assert perfbook("incident", "open", "--title", "health slow", "--severity", "P3", env=env).exit_code == 0
    met = perfbook("load", url, "-n", "200", "-c", "2", "--slo", "p95<1s,errors<1%", "--json", env=env)
    assert met.exit_code == 0 and "INC-1: load #1: " in met.stderr and "SLO met" in met.stderr, met.stderr
    capacity = perfbook(
        "capacity",
        url,
        "--slo",
        "p95<1s",
        "--start-rate",
        "20",
        "--max-rate",
        "40",
        "--step-duration",
        "500ms",
        "--max-duration",
        "3s",
        "--no-plot",
        "--json",
        env=env,
    )
    assert capacity.exit_code in (0, 3) and "INC-1: capacity #2: " in capacity.stderr, capacity.stderr
    missed = perfbook("load", url, "-n", "50", "-c", "1", "--slo", "p95<1us", "--json", env=env)
    assert missed.exit_code == 3 and "SLO missed" in missed.stderr
    doc = perfbook("incident", "show", "INC-1", "--json", env=env).json
    assert [a["label"] for a in doc["artifacts"]] == ["load #1", "capacity #2", "load #3"]
    by = {c["number"]: c for c in doc["checklist"]}
    assert by[10]["artifact"] == by[11]["artifact"] == "load #1"
    assert by[11]["contradicted"].startswith("load #3: SLO missed")
    load_events = [e["data"] for e in doc["timeline"] if e["kind"] == "load"]
    assert [e["slo_met"] for e in load_events] == [True, False] and load_events[0]["requests"] == 200
    page = perfbook("incident", "checklist", "INC-1", env={**env, "COLUMNS": "200"}).stdout
    assert "⚠ contradicted by load #3: SLO missed" in page
