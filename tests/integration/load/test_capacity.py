"""Capacity search against a server with a modelled capacity: K slots × a fixed service time."""

from __future__ import annotations

import time

from load_servers import LocalServer, ServerConfig

from perfbook.load.capacity import run_capacity
from perfbook.load.options import LoadOptions, make_run
from perfbook.load.slo import parse_slo

SLOTS, SERVICE_S = 4, 0.01  # 400 rps at most, whatever is offered


def test_capacity_finds_the_knee_within_15_percent_in_under_30_s(perfbook, tmp_path):
    true_rps = SLOTS / SERVICE_S
    with LocalServer(ServerConfig(mode="slots", slots=SLOTS, service_s=SERVICE_S)) as srv:
        started = time.monotonic()
        res = perfbook(
            "capacity",
            srv.url,
            "--slo",
            "p95<50ms,errors<1%",
            "--start-rate",
            "150",
            "--step-duration",
            "0.7s",
            "--timeout",
            "1s",
            "--json",
            "--plot",
            str(tmp_path / "knee.png"),
        )
        elapsed_s = time.monotonic() - started
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert abs(doc["knee_rps"] - true_rps) / true_rps <= 0.15, doc
    assert elapsed_s < 30
    assert doc["failed_rps"] > doc["knee_rps"]
    assert (tmp_path / "knee.png").read_bytes()[:4] == b"\x89PNG"
    assert "step" in res.stderr  # each step reported as it finishes


def test_max_duration_bounds_the_search():
    with LocalServer() as srv:
        base, _ = make_run(LoadOptions(url=srv.url, connections=4, abort_on_errors=0.0))
        started: list[tuple[int, float, float]] = []
        report = run_capacity(
            base,
            parse_slo("p95<1s"),
            start_rps=50,
            max_rps=10_000,
            step_s=0.3,
            max_duration_s=1.0,
            on_step_start=lambda *step: started.append(step),
        )
    doc = report.to_json()
    assert "max-duration" in doc["reason"]
    assert 1 <= len(doc["steps"]) <= 3
    # progress is told each step as it starts: its number, the rate it tests, how long
    assert [(n, rate) for n, rate, _ in started][: len(doc["steps"])] == [
        (i + 1, s["rate_rps"]) for i, s in enumerate(doc["steps"])
    ]
    assert all(step_s == 0.3 for _, _, step_s in started)
