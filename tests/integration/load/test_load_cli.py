"""``perfbook load`` through the real CLI: the JSON contract, --slo exit codes, safety, compare."""

from __future__ import annotations

import json

from load_servers import LocalServer, ServerConfig

LATENCY_KEYS = {"mean_s", "p50_s", "p90_s", "p95_s", "p99_s", "p999_s", "max_s"}


def test_json_contract(perfbook):
    with LocalServer() as srv:
        res = perfbook("load", srv.url + "/health", "-n", "1000", "-c", "10", "--json")
    assert res.exit_code == 0, res.stderr
    doc = res.json
    for key in (
        "requests",
        "duration_s",
        "rps",
        "bytes",
        "status_codes",
        "errors",
        "latency",
        "latency_uncorrected",
    ):
        assert key in doc
    assert doc["requests"] == 1000 and doc["status_codes"] == {"200": 1000}
    assert set(doc["errors"]) >= {
        "connect_refused",
        "connect_timeout",
        "timeout",
        "reset",
        "parse",
        "non_2xx",
    }
    assert set(doc["latency"]) == set(doc["latency_uncorrected"]) == LATENCY_KEYS


def test_summary_is_readable(perfbook):
    with LocalServer() as srv:
        res = perfbook("load", srv.url + "/health", "-n", "200", "-c", "4")
    assert res.exit_code == 0
    assert "200 requests" in res.stdout and "p99" in res.stdout and "no errors" in res.stdout


def test_slo_met_and_missed_exit_codes(perfbook):
    with LocalServer(ServerConfig(delay_s=0.02)) as srv:
        met = perfbook("load", srv.url, "-n", "100", "-c", "5", "--slo", "p95<2s,errors<1%", "--json")
        missed = perfbook("load", srv.url, "-n", "100", "-c", "5", "--slo", "p95<5ms,errors<1%")
    assert met.exit_code == 0 and all(v["met"] for v in met.json["slo"])
    assert missed.exit_code == 3
    assert "MISSED" in missed.stdout and "p95<5ms" in missed.stdout


def test_slo_errors_include_5xx(perfbook):
    with LocalServer(ServerConfig(mode="status", status=502)) as srv:
        res = perfbook("load", srv.url, "-n", "50", "--slo", "errors<1%", "--abort-on-errors", "0", "--json")
    assert res.exit_code == 3
    assert res.json["slo"][0]["actual"] == 1.0


def test_bad_slo_is_a_usage_error(perfbook):
    res = perfbook("load", "http://127.0.0.1:9/", "-n", "1", "--slo", "p95<fast")
    assert res.exit_code == 2 and "--slo" in res.stderr


def test_post_needs_yes_without_a_terminal(perfbook):
    with LocalServer(ServerConfig(mode="echo")) as srv:
        refused = perfbook("load", srv.url, "-n", "5", "-m", "POST", "--body", "x")
        assert srv.count == 0
        sent = perfbook("load", srv.url, "-n", "5", "-m", "POST", "--body", "x", "--yes", "--json")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert sent.exit_code == 0 and sent.json["responses"] == 5


def test_compare_two_saved_runs(perfbook, tmp_path):
    with LocalServer() as fast, LocalServer(ServerConfig(delay_s=0.01)) as slow:
        perfbook("load", slow.url, "-n", "100", "-c", "2", "-o", str(tmp_path / "before.json"))
        perfbook("load", fast.url, "-n", "100", "-c", "2", "--json", "-o", str(tmp_path / "after.json"))
    res = perfbook("load", "compare", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--json")
    assert res.exit_code == 0, res.stderr
    rows = {r["figure"]: r for r in res.json["figures"]}
    assert rows["latency p50"]["verdict"] == "better" and rows["latency p50"]["change"] < -0.5
    table = perfbook("load", "compare", str(tmp_path / "before.json"), str(tmp_path / "after.json"))
    assert "before.json" in table.stdout and "latency p95" in table.stdout
    bad = perfbook("load", "compare", str(tmp_path / "before.json"))
    assert bad.exit_code == 2


def test_saved_json_equals_stdout(perfbook, tmp_path):
    with LocalServer() as srv:
        res = perfbook("load", srv.url, "-n", "10", "--json", "-o", str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == res.json


def test_compare_says_worse_for_a_slower_server_and_fails_on_regression(perfbook, tmp_path):
    with LocalServer(ServerConfig(delay_s=0.02)) as fast, LocalServer(ServerConfig(delay_s=0.04)) as slow:
        assert (
            perfbook("load", fast.url, "-n", "60", "-c", "2", "-o", str(tmp_path / "a.json")).exit_code == 0
        )
        assert (
            perfbook("load", slow.url, "-n", "60", "-c", "2", "-o", str(tmp_path / "b.json")).exit_code == 0
        )
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    doc = perfbook("load", "compare", a, b, "--json").json
    rows = {r["figure"]: r for r in doc["figures"]}
    assert rows["latency p50"]["verdict"] == "worse" and rows["error rate"]["verdict"] == "same"
    assert doc["verdict"].startswith("B is worse: ") and "latency p50" in doc["verdict"]
    text = perfbook("load", "compare", a, b, env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert text.exit_code == 0 and "worse" in text.stdout and "within noise" in text.stdout
    assert perfbook("load", "compare", a, b, "--fail-on-regression").exit_code == 3
    assert perfbook("load", "compare", a, a, "--fail-on-regression").exit_code == 0  # itself: the same
