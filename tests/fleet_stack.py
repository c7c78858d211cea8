"""A fleet on 127.0.0.1 for the prometheus probe and Alertmanager receiver tests: real Prometheus,
node_exporter and Alertmanager (Debian's binaries, each on a free port with its own config and data
under the test's directory), and replicas of one small service instrumented by prometheus_client.

    with Replica(slow_s=0.6, error_every=5) as bad, Replica() as good, Traffic([good, bad]):
        with Prometheus(tmp_path, [good.target, bad.target]) as prom:
            prom.wait_for_samples('http_request_duration_seconds_count', 10)
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from perfbook import services

ROUTE = "/api/v1/users"


def binary(name: str) -> str:
    """The path of a system binary; skip (fail in CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        if services.require_services():
            pytest.fail(f"{name} is not installed (scripts/system-deps.sh installs it)")
        pytest.skip(f"{name} is not installed here")
    return path


class Replica:
    """One replica of the service on a free port: ``GET /api/v1/users`` (taking ``slow_s``, every
    ``error_every``-th answered 500), ``/health`` and ``/metrics`` (its own registry)."""

    def __init__(self, slow_s: float = 0.01, error_every: int = 0) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.process_collector import ProcessCollector

        self.slow_s, self.error_every, self.n = slow_s, error_every, 0
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.hist = Histogram(
            "http_request_duration_seconds",
            "request duration",
            ["handler", "method", "status"],
            registry=self.registry,
        )
        self.count = Counter(
            "http_requests_total", "requests", ["handler", "method", "status"], registry=self.registry
        )

    def __enter__(self) -> Replica:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        replica = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/metrics":
                    self._answer(200, generate_latest(replica.registry), CONTENT_TYPE_LATEST)
                    return
                started = time.monotonic()
                status = 200
                if self.path.startswith(ROUTE):
                    replica.n += 1
                    time.sleep(replica.slow_s)
                    if replica.error_every and replica.n % replica.error_every == 0:
                        status = 500
                handler = ROUTE if self.path.startswith(ROUTE) else self.path
                self._answer(status, b"{}", "application/json")
                labels = (handler, "GET", str(status))
                replica.hist.labels(*labels).observe(time.monotonic() - started)
                replica.count.labels(*labels).inc()

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class ContainerMetrics:
    """An exporter of cAdvisor's metric names (cAdvisor itself is not packaged here): container
    ``api-1`` uses 0.9 of its 1-core CPU limit and 970 MB of its 1 GB memory limit; ``batch`` has no
    limits. Served on a free port; ``target`` is what Prometheus scrapes."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        self.started = time.monotonic()
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        elapsed = time.monotonic() - self.started
        cpu = CounterMetricFamily("container_cpu_usage_seconds_total", "cpu", labels=["name"])
        cpu.add_metric(["api-1"], 0.9 * elapsed)
        cpu.add_metric(["batch"], 0.2 * elapsed)
        yield cpu
        for metric, api, batch in (
            ("container_spec_cpu_quota", 100000.0, -1.0),
            ("container_spec_cpu_period", 100000.0, 100000.0),
            ("container_memory_working_set_bytes", 970e6, 500e6),
            ("container_spec_memory_limit_bytes", 1e9, 0.0),
        ):
            gauge = GaugeMetricFamily(metric, metric, labels=["name"])
            gauge.add_metric(["api-1"], api)
            gauge.add_metric(["batch"], batch)
            yield gauge

    def __enter__(self) -> ContainerMetrics:
        from prometheus_client import start_http_server

        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.target = f"127.0.0.1:{self.server.server_port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Traffic:
    """One client per replica, one request in flight each, until the block ends."""

    def __init__(self, replicas: Sequence[Replica], pause_s: float = 0.02) -> None:
        self.replicas, self.pause_s, self.stop = replicas, pause_s, threading.Event()

    def __enter__(self) -> Traffic:
        self.threads = [
            threading.Thread(target=self._run, args=(r.target,), daemon=True) for r in self.replicas
        ]
        for t in self.threads:
            t.start()
        return self

    def _run(self, target: str) -> None:
        with httpx.Client(base_url=f"http://{target}", timeout=10) as client:
            while not self.stop.is_set():
                try:
                    client.get(ROUTE)
                except httpx.TransportError:
                    return
                time.sleep(self.pause_s)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


class _Process:
    """A subprocess with its log under ``dir``, stopped (terminate, then kill) at the end."""

    def start(self, cmd: list[str], directory: Path, name: str, port: int) -> None:
        self.log = (directory / f"{name}.log").open("w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=directory)
        try:
            services.wait_for_port("127.0.0.1", port, timeout_s=30)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()


class NodeExporter(_Process):
    """prometheus-node-exporter on a free loopback port (a few collectors: cpu, meminfo, filesystem)."""

    def __init__(self, directory: Path) -> None:
        self.dir, self.port = directory, services.free_port()
        self.target = f"127.0.0.1:{self.port}"

    def __enter__(self) -> NodeExporter:
        self.start(
            [
                binary("prometheus-node-exporter"),
                f"--web.listen-address={self.target}",
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.meminfo",
                "--collector.filesystem",
            ],
            self.dir,
            "node-exporter",
            self.port,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Prometheus(_Process):
    """A real Prometheus scraping ``targets`` (job ``api``) and ``nodes`` (job ``node``) every second."""

    def __init__(
        self,
        directory: Path,
        targets: Sequence[str],
        nodes: Sequence[str] = (),
        rule_files: Sequence[str] = (),
        alertmanager: str | None = None,
        port: int | None = None,
        basic_auth: dict[str, str] | None = None,
        cadvisor: Sequence[str] = (),
    ) -> None:
        self.dir, self.port = directory, port or services.free_port()
        self.web_config: list[str] = []
        if basic_auth:  # user -> bcrypt hash (Prometheus' web config)
            users = "".join(f"  {user}: '{hashed}'\n" for user, hashed in basic_auth.items())
            (directory / "web.yml").write_text("basic_auth_users:\n" + users)
            self.web_config = [f"--web.config.file={directory / 'web.yml'}"]
        self.url = f"http://127.0.0.1:{self.port}"
        jobs = [f"  - job_name: api\n    static_configs: [{{targets: {list(targets)}}}]\n"]
        if nodes:
            jobs.append(f"  - job_name: node\n    static_configs: [{{targets: {list(nodes)}}}]\n")
        if cadvisor:
            jobs.append(f"  - job_name: cadvisor\n    static_configs: [{{targets: {list(cadvisor)}}}]\n")
        text = "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        if rule_files:
            text += f"rule_files: {list(rule_files)}\n"
        if alertmanager:
            text += f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{alertmanager}']}}]\n"
        (directory / "prometheus.yml").write_text(text + "scrape_configs:\n" + "".join(jobs))

    def __enter__(self) -> Prometheus:
        self.start(
            [
                binary("prometheus"),
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *self.web_config,
            ],
            self.dir,
            "prometheus",
            self.port,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def query(self, promql: str) -> list[dict[str, Any]]:
        doc = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10).json()
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def wait_for(self, promql: str, timeout_s: float = 60) -> list[dict[str, Any]]:
        """The query's answer once it is not empty."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if result:
                return result
            assert time.monotonic() < deadline, f"no answer to {promql} after {timeout_s} s"
            time.sleep(0.5)


class Alertmanager(_Process):
    """A real Alertmanager (no gossip) whose one receiver posts to ``webhook_url`` with a bearer token."""

    def __init__(self, directory: Path, webhook_url: str, token: str) -> None:
        self.dir, self.port = directory, services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target = f"127.0.0.1:{self.port}"
        (directory / "alertmanager.yml").write_text(
            "route:\n  receiver: perfbook\n  group_by: [alertname, job]\n  group_wait: 1s\n"
            "  group_interval: 2s\n  repeat_interval: 1h\n"
            "receivers:\n  - name: perfbook\n    webhook_configs:\n"
            f"      - url: {webhook_url}\n        send_resolved: true\n"
            f"        http_config: {{authorization: {{credentials: {token}}}}}\n"
        )

    def __enter__(self) -> Alertmanager:
        self.start(
            [
                binary("prometheus-alertmanager"),
                f"--config.file={self.dir / 'alertmanager.yml'}",
                f"--storage.path={self.dir / 'am-data'}",
                f"--web.listen-address={self.target}",
                "--cluster.listen-address=",
            ],
            self.dir,
            "alertmanager",
            self.port,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def post(self, alerts: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        assert response.status_code == 200, response.text
