"""What the prometheus probe hands the rules: a fleet of replicas judged as one service. Pure.

The figures are the metrics probe's (:class:`~perfbook.evidence.metrics.HandlerWindow`: requests,
rate, p50/p95/p99 with the same ``+Inf`` and coarse-bucket semantics, 5xx share), computed from
``increase()`` of the request histograms and counters over ``range_s`` as Prometheus returns them,
summed across every replica the selector matches (``handlers``, ``total``) and per replica
(``instances``), so the report can name the replica that stands out. Host figures per instance
come from node_exporter's series, container figures against their limits from cAdvisor's, when
Prometheus has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perfbook.evidence.metrics import HandlerWindow


@dataclass
class InstanceWindow:
    """One replica (Prometheus' ``instance`` label) over the range."""

    instance: str  # the scrape target, e.g. 10.0.0.7:8001
    job: str | None  # its job label
    handlers: list[HandlerWindow] = field(default_factory=list)  # its handlers, per method
    total: HandlerWindow | None = None  # all its handlers except metrics_path / health_path
    cpu_cores: float | None = None  # rate(process_cpu_seconds_total): cores its process used, when exported


@dataclass
class InstanceHost:
    """One machine as node_exporter describes it (averaged over the range where it is a rate)."""

    instance: str  # node_exporter's instance label
    cpu_pct: float | None = None  # 100 × (1 − idle share), all cores, over the range
    memory_pct: float | None = None  # 100 × (1 − MemAvailable / MemTotal), now
    disk_pct: float | None = None  # the fullest real filesystem: 100 × (1 − avail / size), now
    disk_mount: str | None = None  # that filesystem's mountpoint


@dataclass
class InstanceContainer:
    """One container as cAdvisor describes it, against its own limits."""

    instance: str  # cAdvisor's instance label (the machine)
    name: str  # the container's name label
    cpu_cores: float | None = None  # rate(container_cpu_usage_seconds_total) over the range
    cpu_limit_cores: float | None = None  # container_spec_cpu_quota / period; None without a limit
    memory_bytes: float | None = None  # container_memory_working_set_bytes, now
    memory_limit_bytes: float | None = None  # container_spec_memory_limit_bytes; None without a limit
    cpu_pct: float | None = None  # 100 × cpu_cores / cpu_limit_cores
    memory_pct: float | None = None  # 100 × memory_bytes / memory_limit_bytes


@dataclass
class PrometheusEvidence:
    """What the prometheus probe asked, and what the fleet looked like."""

    url: str  # the Prometheus API, redacted
    selector: str  # the label matchers used ("" = every series)
    range_s: float  # the window the increase() / rate() queries covered
    handlers: list[HandlerWindow] = field(default_factory=list)  # every handler, summed over the replicas
    total: HandlerWindow | None = None  # all replicas, all handlers except metrics_path / health_path
    instances: list[InstanceWindow] = field(default_factory=list)  # per replica, sorted by instance
    hosts: list[InstanceHost] = field(default_factory=list)  # node_exporter's machines, sorted by instance
    #: cAdvisor's containers, by instance and name
    containers: list[InstanceContainer] = field(default_factory=list)
    families: list[str] = field(default_factory=list)  # metric names the figures came from
    queries: int = 0  # HTTP API queries sent (the probe's cost)
    series: int = 0  # series the queries returned
    bytes_read: int = 0  # response bytes read
    notes: list[str] = field(default_factory=list)  # e.g. "no request-duration histogram under job=\"api\""
