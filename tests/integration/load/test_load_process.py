"""perfbook load as a real process and with config: Ctrl-C, --slo kpi, --watch, the non-local guard."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from load_servers import LocalServer


def test_ctrl_c_prints_the_partial_result_and_exits_130():
    with LocalServer() as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfbook", "load", srv.url, "-d", "30s", "-c", "2", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while srv.count < 100 and time.monotonic() < deadline:  # signal once the load is running
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["responses"] > 0 and doc["duration_s"] < 10


def test_slo_kpi_reads_thresholds_from_config(perfbook, tmp_path):
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text("[thresholds]\np95_s = 1.0\nerror_rate = 0.05\nthroughput_rps = 10\n")
    with LocalServer() as srv:
        res = perfbook("load", srv.url, "-n", "300", "--slo", "kpi", "--config", str(cfg), "--json")
    assert res.exit_code == 0, res.stderr
    assert [v["objective"] for v in res.json["slo"]] == ["p95<1s", "errors<5%", "rps>10"]


def test_watch_reports_resources(perfbook, tmp_path):
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text('[process]\nmatch = ["python"]\n')
    with LocalServer() as srv:
        res = perfbook("load", srv.url, "-d", "1.2s", "-c", "2", "--watch", "--config", str(cfg), "--json")
    assert res.exit_code == 0, res.stderr
    watch = res.json["watch"]
    assert watch["samples"] >= 1 and 0 <= watch["host_cpu_pct_max"] <= 100
    assert any(p["rss_bytes_max"] > 0 for p in watch["processes"])


def test_non_local_target_needs_yes(perfbook):
    # 192.0.2.1 is TEST-NET-1: nothing is sent, the guard refuses before any connection
    res = perfbook("load", "http://192.0.2.1/", "-n", "1")
    assert res.exit_code == 2 and "not on this machine" in res.stderr
