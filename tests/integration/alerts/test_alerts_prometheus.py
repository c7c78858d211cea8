"""Exported rules in a real Prometheus scraping a real instrumented app (Flask + prometheus-flask-exporter).

prometheus-flask-exporter names its histogram ``flask_http_request_duration_seconds`` with the
labels ``method``, ``path`` and ``status``; perfbook's rules read it through ``[alerts]`` names.
The app answers 10 % of its requests with 500 and one endpoint slowly; within seconds the real
Prometheus (1 s scrapes and evaluations, its own data directory, a free loopback port) fires
HighErrorRate for the job and HighResponseTime for the slow path only, and every exported rule
evaluates without error against real series.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perfbook import services

pytest.importorskip("prometheus_flask_exporter")

CONFIG = """
[http]
min_window_requests = 5

[alerts]
prometheus_selector = 'job="app"'
prometheus_range = "10s"
duration_histogram = "flask_http_request_duration_seconds"
requests_counter = "flask_http_request_duration_seconds_count"

[[alerts.rules]]
name = "HighErrorRate"
for = "2s"

[[alerts.rules]]
name = "HighResponseTime"
when = "p95_s > 0.2"
for = "2s"
"""


@pytest.fixture
def flask_app() -> Iterator[str]:
    """A Flask app instrumented by prometheus-flask-exporter on a free loopback port: /ok, /fail, /slow."""
    from flask import Flask
    from prometheus_client import CollectorRegistry
    from prometheus_flask_exporter import PrometheusMetrics
    from werkzeug.serving import make_server

    app = Flask("perfbook-alerts-test")
    PrometheusMetrics(app, registry=CollectorRegistry())  # its own registry: tests may run it twice
    app.add_url_rule("/ok", "ok", lambda: "ok")
    app.add_url_rule("/fail", "fail", lambda: ("boom", 500))
    app.add_url_rule("/slow", "slow", lambda: (time.sleep(0.4), "slow")[1])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def traffic(target: str, stop: threading.Event) -> None:
    """About 8 requests a second, one at a time: one in ten fails, one in five is slow (0.4 s)."""
    with httpx.Client(base_url=f"http://{target}", timeout=5) as client:
        n = 0
        while not stop.is_set():
            path = "/fail" if n % 10 == 0 else "/slow" if n % 5 == 2 else "/ok"
            try:
                client.get(path)
            except httpx.TransportError:  # the app stopping under the last request
                return
            n += 1
            time.sleep(0.05)


def test_a_real_prometheus_fires_the_exported_rules_on_real_instrumentation(perfbook, tmp_path, flask_app):
    binary = shutil.which("prometheus")
    if binary is None:
        if services.require_services():
            pytest.fail("prometheus is not installed (scripts/system-deps.sh installs it)")
        pytest.skip("prometheus is not installed here")
    (tmp_path / "perfbook.toml").write_text(CONFIG)
    exported = perfbook(
        "alerts",
        "export",
        "--config",
        str(tmp_path / "perfbook.toml"),
        "--prometheus",
        str(tmp_path / "rules.yml"),
    )
    assert exported.exit_code == 0, exported.stderr
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [rules.yml]\n"
        f"scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['{flask_app}']}}]\n"
    )
    stop = threading.Event()
    load = threading.Thread(target=traffic, args=(flask_app, stop), daemon=True)
    load.start()
    try:
        with _prometheus(binary, tmp_path) as api:
            firing = _wait_for(api, {"HighErrorRate", "HighResponseTime"}, timeout_s=60)
            rules = httpx.get(f"{api}/api/v1/rules", timeout=5).json()["data"]["groups"][0]["rules"]
    finally:
        stop.set()
        load.join(timeout=10)
    errors = [a for a in firing if a["labels"]["alertname"] == "HighErrorRate"]
    assert [a["labels"]["job"] for a in errors] == ["app"]
    share = float(errors[0]["value"])
    assert 0.05 < share < 0.2  # one in ten, over the last 10 s (judged from 5 requests, as configured)
    assert errors[0]["annotations"]["summary"].startswith("5xx share ")
    slow = [a["labels"].get("path") for a in firing if a["labels"]["alertname"] == "HighResponseTime"]
    assert slow == ["/slow"]  # prometheus-flask-exporter's "path" label; /ok and /fail stay fast
    assert {r["name"]: r["health"] for r in rules} == {r["name"]: "ok" for r in rules}, [
        (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"
    ]


class _prometheus:
    """A real Prometheus with ``dir``/prometheus.yml on a free loopback port; yields its base URL."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.dir, self.port = binary, directory, services.free_port()

    def __enter__(self) -> str:
        self.log = (self.dir / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )
        services.wait_for_port("127.0.0.1", self.port, timeout_s=20)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def _wait_for(api: str, names: set[str], timeout_s: float) -> list[dict]:
    """The firing alerts once every one of ``names`` fires."""
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = httpx.get(f"{api}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        firing = [a for a in alerts if a["state"] == "firing"]
        if names <= {a["labels"]["alertname"] for a in firing}:
            return firing
        assert time.monotonic() < deadline, f"not firing after {timeout_s} s: {alerts}"
        time.sleep(0.5)
