"""The prometheus rules on figures built the probe's way (increase() answers -> window figures): the
fleet judged by the HTTP rules, the replica that stands out named, node_exporter's machines judged."""

from __future__ import annotations

import math

from perfbook.config import Config, Thresholds
from perfbook.evidence.prometheus import PrometheusEvidence
from perfbook.model import Evidence
from perfbook.probes import prometheus_build as build
from perfbook.rules import prometheus as rules

BOUNDS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, math.inf)


def _buckets(instance: str, route: str, durations: list[float]) -> list[build.Sample]:
    labels = {"instance": instance, "job": "api", "handler": route, "method": "GET", "status": "200"}
    return [
        ({**labels, "le": "+Inf" if b == math.inf else str(b)}, float(sum(d <= b for d in durations)))
        for b in BOUNDS
    ]


def _evidence(
    per_instance: dict[str, list[float]], hosts: list[build.InstanceHost] | None = None
) -> Evidence:
    samples = [
        s for inst, durations in per_instance.items() for s in _buckets(inst, "/api/v1/users", durations)
    ]
    by_name = {"http_request_duration_seconds_bucket": samples}
    fleet = build.fleet_window(by_name, 10.0, {"/metrics", "/health"})
    data = PrometheusEvidence(
        url="http://prom:9090",
        selector='job="api"',
        range_s=10.0,
        handlers=fleet.handlers,
        total=fleet.total,
        instances=build.instance_windows(by_name, 10.0, set(), []),
        hosts=hosts or [],
    )
    return Evidence("prometheus", "ok", 0.1, data=data)


def _cfg(**th: float) -> Config:
    return Config(thresholds=Thresholds(**th))


def test_the_slow_replica_is_named_on_the_fleets_finding_and_as_an_outlier():
    ev = _evidence({"10.0.0.5:8001": [0.02] * 40, "10.0.0.6:8001": [0.02] * 40, "10.0.0.7:8001": [0.6] * 30})
    findings = {
        f.code: f
        for f in rules.evaluate({"prometheus": ev}, _cfg(p95_s=0.4, severity_p3_s=0.2, severity_p2_s=0.4))
    }
    slow = findings["http.slow_response"]
    assert slow.subject == "/api/v1/users" and "worst 10.0.0.7:8001 of 3 replicas" in slow.title
    outlier = findings["prometheus.instance_outlier"]
    assert outlier.subject == "/api/v1/users@10.0.0.7:8001" and "the others' median" in outlier.title


def test_an_even_fleet_has_no_outlier_and_kpis_say_prometheus():
    ev = _evidence({"a:1": [0.02] * 40, "b:1": [0.03] * 40})
    assert rules.evaluate({"prometheus": ev}, _cfg()) == []
    kpis = rules.kpis({"prometheus": ev}, _cfg())
    assert kpis["p95_source"] == "prometheus" and kpis["p95_subject"] == "/api/v1/users"


def test_node_exporter_machines_are_judged_by_the_host_thresholds():
    hosts = build.hosts(
        [({"instance": "n1:9100"}, 97.0)],
        [({"instance": "n1:9100"}, 40.0)],
        [
            ({"instance": "n1:9100", "mountpoint": "/"}, 50.0),
            ({"instance": "n1:9100", "mountpoint": "/data"}, 90.0),
        ],
    )
    assert hosts[0].disk_mount == "/data" and hosts[0].disk_pct == 90.0
    ev = _evidence({"a:1": [0.02] * 40}, hosts)
    found = {(f.code, f.subject, f.level.value) for f in rules.evaluate({"prometheus": ev}, _cfg())}
    assert found == {("host.cpu_high", "n1:9100", "critical"), ("host.disk_high", "n1:9100", "warning")}


def test_an_unreachable_prometheus_is_one_finding():
    ev = Evidence("prometheus", "unavailable", 0.01, reason="Prometheus connection refused 127.0.0.1:9")
    found = rules.evaluate({"prometheus": ev}, Config())
    assert [f.code for f in found] == ["prometheus.unreachable"] and "refused" in found[0].title


def test_a_query_error_is_a_query_error():
    try:
        build.vector({"status": "error", "errorType": "bad_data", "error": "parse error"})
    except build.QueryError as err:
        assert str(err) == "bad_data: parse error"
    else:
        raise AssertionError("no QueryError")


def test_the_title_names_prometheus_as_the_source():
    ev = _evidence({"a:1": [0.02] * 40, "b:1": [0.6] * 40})
    slow = next(
        f
        for f in rules.evaluate({"prometheus": ev}, _cfg(p95_s=0.4, severity_p3_s=0.2, severity_p2_s=0.4))
        if f.code == "http.slow_response"
    )
    assert slow.title.startswith("p95 ") and "(prometheus" in slow.title and "(metrics" not in slow.title
    assert slow.evidence["judged_from"] == "prometheus"


def test_cadvisor_containers_are_judged_against_their_own_limits_only():
    rows = build.containers(
        cpu=[({"instance": "m:8080", "name": "api"}, 0.95), ({"instance": "m:8080", "name": "free"}, 3.0)],
        cpu_limit=[({"instance": "m:8080", "name": "api"}, 1.0)],
        memory=[
            ({"instance": "m:8080", "name": "api"}, 400e6),
            ({"instance": "m:8080", "name": "free"}, 9e9),
        ],
        memory_limit=[({"instance": "m:8080", "name": "api"}, 1e9)],
    )
    assert [(c.name, c.cpu_pct, c.memory_pct) for c in rows] == [("api", 95.0, 40.0), ("free", None, None)]
    ev = _evidence({"a:1": [0.02] * 40})
    ev.data.containers = rows
    found = {(f.code, f.subject) for f in rules.evaluate({"prometheus": ev}, _cfg())}
    assert found == {("container.cpu_high", "api@m:8080")}
