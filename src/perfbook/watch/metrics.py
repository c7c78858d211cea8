"""perfbook's own metrics: the latest run's judgement as Prometheus series (prometheus_client).

    metrics = WatchMetrics()
    metrics.observe(result)                   # after each run
    body, content_type = metrics.exposition()
    server = serve_metrics("127.0.0.1:9464", metrics)

Series (gauges hold the latest run; counters count since the watch started):

- one gauge per KPI, ``perfbook_p95_seconds{subject}``, ``perfbook_error_ratio`` … (subject ``""``
  is the stack's figure, the others each endpoint / container / mount the rules read);
- ``perfbook_finding{code,subject,level} 1`` for each finding of the latest run;
- ``perfbook_alert{rule,subject,severity,state} 1`` for each alert pending or firing;
- ``perfbook_watch_runs_total``, ``perfbook_watch_run_failures_total``,
  ``perfbook_watch_run_duration_seconds`` (latest), ``perfbook_watch_last_run_timestamp_seconds``;
- ``perfbook_watch_probe_duration_seconds{probe}`` and
  ``perfbook_watch_probe_failures_total{probe,status}`` (a run where the probe was unavailable or failed).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from perfbook.errors import UsageError

KPI_METRICS = {
    "p95_s": ("perfbook_p95_seconds", "p95 response time (s)"),
    "error_rate": ("perfbook_error_ratio", "5xx share of requests in the window"),
    "cpu_pct": ("perfbook_cpu_percent", "CPU busy (%), of the host or a container's limit"),
    "memory_pct": ("perfbook_memory_percent", "memory used (%), of the host or a container's limit"),
    "disk_pct": ("perfbook_disk_percent", "disk used (%) per mount"),
    "db_query_mean_ms": ("perfbook_db_query_mean_milliseconds", "mean statement time in the window (ms)"),
    "cache_hit_rate": ("perfbook_cache_hit_ratio", "Redis keyspace hit rate in the window"),
}
FAILED = ("unavailable", "error")


class WatchMetrics:
    """A prometheus_client collector over the latest run (thread-safe: a scrape reads a snapshot)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, Any] = {}
        self._runs = 0
        self._failures = 0
        self._probe_failures: Counter[tuple[str, str]] = Counter()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # type: ignore[arg-type]

    def observe(self, doc: dict[str, Any]) -> None:
        """Take one run's document (what ``watch --json`` prints for a run)."""
        with self._lock:
            self._runs += 1
            self._latest = doc
            for probe, p in (doc.get("probes") or {}).items():
                if p["status"] in FAILED:
                    self._probe_failures[(probe, p["status"])] += 1

    def failed(self) -> None:
        """A run that could not complete (a perfbook or store error)."""
        with self._lock:
            self._runs += 1
            self._failures += 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            doc, runs, failures = self._latest, self._runs, self._failures
            probe_failures = dict(self._probe_failures)
        yield from _kpis(doc)
        finding = GaugeMetricFamily(
            "perfbook_finding", "a finding of the latest run", labels=["code", "subject", "level"]
        )
        for f in doc.get("findings") or []:
            finding.add_metric([f["code"], f["subject"], f["level"]], 1)
        yield finding
        alert = GaugeMetricFamily(
            "perfbook_alert", "an alert pending or firing", labels=["rule", "subject", "severity", "state"]
        )
        for a in doc.get("alerts") or []:
            if a["state"] in ("pending", "firing"):
                alert.add_metric([a["rule"], a["subject"], a.get("severity") or "", a["state"]], 1)
        yield alert
        yield CounterMetricFamily("perfbook_watch_runs", "watch runs since start", value=runs)
        yield CounterMetricFamily(
            "perfbook_watch_run_failures", "watch runs that failed since start", value=failures
        )
        if doc:
            yield GaugeMetricFamily(
                "perfbook_watch_run_duration_seconds", "how long the latest run took", value=doc["duration_s"]
            )
            yield GaugeMetricFamily(
                "perfbook_watch_last_run_timestamp_seconds",
                "when the latest run started",
                value=doc["started_at_s"],
            )
        durations = GaugeMetricFamily(
            "perfbook_watch_probe_duration_seconds", "each probe's time in the latest run", labels=["probe"]
        )
        for probe, p in (doc.get("probes") or {}).items():
            if p["status"] != "skipped":
                durations.add_metric([probe], p["duration_s"])
        yield durations
        fails = CounterMetricFamily(
            "perfbook_watch_probe_failures",
            "runs where a probe was unavailable or failed",
            labels=["probe", "status"],
        )
        for (probe, status), n in sorted(probe_failures.items()):
            fails.add_metric([probe, status], n)
        yield fails

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type (what /metrics serves)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _kpis(doc: dict[str, Any]) -> Iterator[Metric]:
    by_kpi: dict[str, list[tuple[str, float]]] = {}
    for s in doc.get("samples") or []:
        by_kpi.setdefault(s["kpi"], []).append((s["subject"], s["value"]))
    for kpi, points in by_kpi.items():
        name, text = KPI_METRICS.get(kpi, (f"perfbook_kpi_{kpi}", kpi))
        family = GaugeMetricFamily(name, text, labels=["subject"])
        for subject, value in points:
            family.add_metric([subject], value)
        yield family


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:9464`` / ``[::1]:9464`` -> (host, port).

    >>> parse_listen("127.0.0.1:9464"), parse_listen("[::1]:0")
    (('127.0.0.1', 9464), ('::1', 0))
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise UsageError(
            f"--metrics-listen takes HOST:PORT, got {text!r}", hint="e.g. --metrics-listen 127.0.0.1:9464"
        )
    return host.strip("[]"), int(port)


def serve_metrics(listen: str, metrics: WatchMetrics) -> tuple[Any, int]:
    """Serve /metrics on ``listen`` in a thread; (server, the port it got). ``server.shutdown()`` stops it."""
    from prometheus_client import start_http_server

    host, port = parse_listen(listen)
    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as err:
        raise UsageError(
            f"--metrics-listen {listen}: {err.strerror or err}", hint="choose a free port, or 0 for any"
        ) from None
    return server, server.server_address[1]
