"""perfbook's own /metrics: a real watch process scraped over HTTP, parsed with prometheus_client's parser;
SIGINT / SIGTERM stop it between runs; ``serve --watch``'s entry point; a real Prometheus scrapes it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from probes.servers import AppServer, Route
from prometheus_client.parser import text_string_to_metric_families

from perfbook.config import load_config
from perfbook.services import free_port
from watch.watch_kit import SLOW_RULE, write_config

PERFBOOK = [sys.executable, "-m", "perfbook"]


def _samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def _scrape_until(url: str, ready, timeout_s: float = 20.0) -> dict[str, list]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, list] = {}
    while time.monotonic() < deadline:
        try:
            last = _samples(httpx.get(url, timeout=2).text)
            if ready(last):
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/metrics never got there: {sorted(last)}")


def _firing(samples: dict[str, list]) -> bool:
    return any(s.labels["state"] == "firing" for s in samples.get("perfbook_alert", []))


def test_metrics_carry_kpis_findings_and_the_firing_alert_and_sigterm_stops_it(tmp_path):
    port = free_port()
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=SLOW_RULE)
        proc = subprocess.Popen(
            [
                *PERFBOOK,
                "watch",
                "--config",
                str(cfg),
                "--interval",
                "1s",
                "--window",
                "0.4s",
                "--metrics-listen",
                f"127.0.0.1:{port}",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            got = _scrape_until(f"http://127.0.0.1:{port}/metrics", _firing)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    (alert,) = [s for s in got["perfbook_alert"] if s.labels["rule"] == "HighResponseTime"]
    assert (
        alert.labels
        == {"rule": "HighResponseTime", "subject": "/api/v1/slow", "severity": "warning", "state": "firing"}
        and alert.value == 1
    )
    p95 = {s.labels["subject"]: s.value for s in got["perfbook_p95_seconds"]}
    assert p95["/api/v1/slow"] > 0.5 and "" in p95
    assert got["perfbook_watch_runs_total"][0].value >= 2
    assert got["perfbook_watch_run_failures_total"][0].value == 0
    assert {s.labels["probe"] for s in got["perfbook_watch_probe_duration_seconds"]} >= {
        "http",
        "metrics",
        "host",
    }
    assert all(set(s.labels) == {"code", "subject", "level"} for s in got.get("perfbook_finding", []))
    runs = [json.loads(line) for line in out.splitlines() if line.startswith('{"type": "run"')]
    assert runs and "terminated" in err  # stopped between runs, each run's line complete


def test_ctrl_c_stops_between_runs_with_130(tmp_path):
    with AppServer() as app:
        cfg = write_config(tmp_path, app.url)
        proc = subprocess.Popen(
            [*PERFBOOK, "watch", "--config", str(cfg), "--interval", "1s", "--window", "0.4s", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = proc.stdout.readline()  # one run done
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert json.loads(first)["type"] == "run"
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert all(json.loads(line) for line in out.splitlines())  # nothing cut half-way


def test_serve_watch_entry_point_runs_the_loop_and_builds_metrics(tmp_path):
    from perfbook.watch.serve import start_for_serve

    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        path = write_config(tmp_path, app.url, rules=SLOW_RULE)
        cfg = load_config(path, env={})
        stop = threading.Event()
        metrics = start_for_serve(cfg, stop=stop)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                body, content_type = metrics()
                if _firing(_samples(body.decode())):
                    break
                time.sleep(0.2)
        finally:
            stop.set()
    assert content_type.startswith("text/plain") and _firing(_samples(body.decode()))


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus binary (make test-deps)")
def test_a_real_prometheus_scrapes_perfbooks_judgement(tmp_path):
    metrics_port, prom_port = free_port(), free_port()
    (tmp_path / "prom.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: perfbook, static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]}}]\n"
    )
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=SLOW_RULE)
        watch = subprocess.Popen(
            [
                *PERFBOOK,
                "watch",
                "--config",
                str(cfg),
                "--interval",
                "1s",
                "--window",
                "0.4s",
                "--metrics-listen",
                f"127.0.0.1:{metrics_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        prom = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp_path / 'prom.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        try:
            query = 'perfbook_alert{rule="HighResponseTime",state="firing"}'
            result = []
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and not result:
                try:
                    doc = httpx.get(
                        f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": query}, timeout=2
                    ).json()
                    result = doc["data"]["result"]
                except (httpx.HTTPError, KeyError, ValueError):
                    pass
                time.sleep(0.5)
        finally:
            for p in (prom, watch):
                p.terminate()
            for p in (prom, watch):
                p.wait(timeout=20)
    assert (
        result
        and result[0]["metric"]["subject"] == "/api/v1/slow"
        and result[0]["metric"]["job"] == "perfbook"
    )


def test_perfbook_serve_watch_serves_the_watch_metrics(tmp_path: Path) -> None:
    port = free_port()
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=SLOW_RULE)
        proc = subprocess.Popen(
            [*PERFBOOK, "serve", "--watch", "--listen", f"127.0.0.1:{port}", "--config", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            got = _scrape_until(f"http://127.0.0.1:{port}/metrics", _firing, timeout_s=30)
            alerts = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5).json()
            overview = httpx.get(f"http://127.0.0.1:{port}/api/v1/overview", timeout=5).json()
        finally:
            proc.terminate()
            proc.communicate(timeout=20)
    assert got["perfbook_watch_runs_total"][0].value >= 2
    assert "HighResponseTime" in json.dumps(alerts)  # the dashboard's API reads the same alert_states
    p95 = next(k for k in overview["kpis"] if k["kpi"] == "p95_s")
    assert p95["sparklines"]["hour"]["samples"] >= 1  # and plots watch's samples
