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


def capacity_of_a_100ms_service(perfbook, *args: str):
    """``perfbook capacity`` from 50 rps in 1 s steps, -c 2, against a server answering every
    request after 100 ms with no limit on concurrency."""
    with LocalServer(ServerConfig(delay_s=0.1)) as srv:
        steps = ("--start-rate", "50", "--step-duration", "1s", "-c", "2")
        return perfbook("capacity", srv.url, *steps, *args, "--json")


def test_a_slow_service_gets_the_connections_its_rate_needs(perfbook):
    """200 rps at 100 ms needs ~20 connections. Started with 2 (as a user might pass -c 2), the
    steps open more as latency asks: the SLO is met at every step."""
    res = capacity_of_a_100ms_service(perfbook, "--slo", "p95<300ms,errors<1%", "--max-rate", "200")
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["knee_rps"] == 200 and "up to --max-rate" in doc["reason"], doc
    assert all(s["client_limit"] is None and s["met"] for s in doc["steps"]), doc["steps"]


def test_a_step_perfbook_could_not_send_is_its_own_limit_not_the_services(perfbook):
    """--max-connections 3 at 100 ms a request holds 30 rps: the 50 rps step is not the service's
    miss, and the outcome says whose it is."""
    res = capacity_of_a_100ms_service(
        perfbook, "--slo", "p95<300ms", "--max-connections", "3", "--max-rate", "100"
    )
    assert res.exit_code == 3, res.stderr
    doc = res.json
    (step,) = doc["steps"]
    assert not step["met"] and "--max-connections 3 reached" in step["client_limit"], step
    assert "perfbook's limit, not the service's" in doc["reason"], doc["reason"]
