"""``perfbook load``'s per-second series: one row a second, counts adding up, p95 near the server's delay."""

from __future__ import annotations

from load_servers import LocalServer, ServerConfig


def test_open_loop_series_rows_add_up_to_the_total(perfbook):
    with LocalServer(ServerConfig(delay_s=0.02)) as srv:
        res = perfbook("load", srv.url, "-d", "3s", "--rate", "200", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json
    series = doc["series"]
    assert [row["t_s"] for row in series] == [0, 1, 2]
    assert sum(row["requests"] for row in series) == doc["requests"]
    assert sum(row["errors"] for row in series) == 0
    for row in series:
        assert 120 <= row["requests"] <= 280  # 200 a second, a second's edge within a tick
        assert 0.015 <= row["p95_s"] <= 0.5  # the server's 20 ms, with room for a loaded machine
        assert row["p50_s"] <= row["p95_s"] <= row["p99_s"]


def test_closed_loop_series_and_the_sparklines(perfbook):
    with LocalServer(ServerConfig(delay_s=0.005)) as srv:
        res = perfbook("load", srv.url, "-d", "2s", "-c", "4", "--json")
        text = perfbook("load", srv.url, "-d", "2s", "-c", "4")
    assert res.exit_code == 0, res.stderr
    series = res.json["series"]
    assert [row["t_s"] for row in series] == [0, 1]
    assert sum(row["requests"] for row in series) == res.json["requests"]
    assert text.exit_code == 0, text.stderr
    lines = [line for line in text.stdout.splitlines() if line.startswith(("rps/s ", "p95/s "))]
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines)


def test_worker_processes_seconds_are_merged(perfbook):
    with LocalServer(ServerConfig(delay_s=0.01)) as srv:
        res = perfbook("load", srv.url, "-d", "2s", "--rate", "200", "--workers", "2", "-c", "4", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["workers"] == 2
    assert [row["t_s"] for row in doc["series"]] == [0, 1]
    assert sum(row["requests"] for row in doc["series"]) == doc["requests"] == 400
