"""The prometheus probe against a real Prometheus scraping two replicas and node_exporter every second.

One replica of the service answers /api/v1/users in 10 ms, the other in 0.6 s with one answer in
five a 500. Through ``perfbook triage --only prometheus``, the fleet's p95 on the route matches
Prometheus' own histogram_quantile over the same range (within 10 %), the slow replica is named,
node_exporter's machine has its figures, and a Prometheus that is not there is one finding while
the other probes go on.
"""

from __future__ import annotations

import pytest

from fleet_stack import ROUTE, ContainerMetrics, NodeExporter, Prometheus, Replica, Traffic
from perfbook.report.json import validate_report

RANGE_S = 8


def _config(tmp_path, url: str) -> str:
    path = tmp_path / "perfbook.toml"
    path.write_text(f"""
[http]
base_url = ""
min_window_requests = 5

[prometheus]
url = "{url}"
selector = 'job="api"'
node_selector = 'job="node"'
range_s = {RANGE_S}
timeout_s = 5

[thresholds]
p95_s = 0.4
severity_p3_s = 0.2
severity_p2_s = 0.4
memory_pct = 1
cpu_pct = 30
""")
    return str(path)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Prometheus with RANGE_S seconds of the two replicas' traffic and node_exporter's series."""
    tmp = tmp_path_factory.mktemp("fleet")
    with (
        Replica() as good,
        Replica(slow_s=0.6, error_every=5) as bad,
        NodeExporter(tmp) as node,
        ContainerMetrics() as containers,
        Traffic([good, bad], pause_s=0.1),
    ):
        with Prometheus(
            tmp, [good.target, bad.target], nodes=[node.target], cadvisor=[containers.target]
        ) as prom:
            prom.wait_for(f'sum(increase(http_requests_total{{instance="{bad.target}"}}[{RANGE_S}s])) > 6')
            prom.wait_for("node_memory_MemTotal_bytes")
            prom.wait_for(f"rate(container_cpu_usage_seconds_total[{RANGE_S}s])")
            prom.container_target = containers.target
            yield prom, good, bad, node, tmp


def test_the_fleet_is_judged_as_one_service_and_the_slow_replica_is_named(perfbook, fleet):
    prom, good, bad, node, tmp = fleet
    result = perfbook(
        "triage", "--config", _config(tmp, prom.url), "--only", "prometheus", "--json", "--fail-on", "never"
    )
    assert result.exit_code == 0, result.stderr
    report = result.json
    validate_report(report)  # the JSON contract holds with the fleet's figures in it
    expected = prom.query(
        f"histogram_quantile(0.95, sum by (le, handler) "
        f'(rate(http_request_duration_seconds_bucket{{job="api",handler="{ROUTE}"}}[{RANGE_S}s])))'
    )
    theirs = float(expected[0]["value"][1])
    ev = report["probes"]["prometheus"]
    assert ev["status"] == "ok", ev["reason"]
    fleet_route = next(h for h in ev["evidence"]["handlers"] if h["handler"] == ROUTE)
    assert fleet_route["p95_s"] == pytest.approx(theirs, rel=0.10)
    assert {i["instance"] for i in ev["evidence"]["instances"]} == {good.target, bad.target}
    assert ev["evidence"]["queries"] >= 4 and ev["evidence"]["series"] > 0  # the cost, stated

    by_code = {}
    for f in report["findings"]:
        by_code.setdefault(f["code"], []).append(f)
    slow = by_code["http.slow_response"][0]
    assert slow["subject"] == ROUTE and f"worst {bad.target} of 2 replicas" in slow["title"]
    assert slow["evidence"]["worst_instance"] == bad.target
    outliers = {f["subject"] for f in by_code["prometheus.instance_outlier"]}
    assert outliers == {f"{ROUTE}@{bad.target}"}
    assert report["severity"] == "P2" and report["kpis"]["p95_source"] == "prometheus"
    memory = [f for f in by_code["host.memory_high"] if f["subject"] == node.target]
    assert memory and "node_exporter" in memory[0]["title"]
    api = f"api-1@{prom.container_target}"  # cAdvisor's names: judged against the container's own limits
    # 0.9 of 1 core (over cpu_pct 30 % whatever the scrape skew); batch has no limit
    assert [f["subject"] for f in by_code["container.cpu_high"]] == [api]
    # 97 %
    assert [(f["subject"], f["level"]) for f in by_code["container.memory_high"]] == [(api, "critical")]


def test_an_unreachable_prometheus_is_one_finding_and_triage_goes_on(perfbook, tmp_path, closed_port):
    config = _config(tmp_path, f"http://127.0.0.1:{closed_port}")
    with Replica() as replica, Traffic([replica]):
        path = tmp_path / "perfbook.toml"  # a base_url set: the metrics probe scrapes that replica directly
        path.write_text(
            path.read_text().replace('base_url = ""', f'base_url = "http://{replica.target}"\nendpoints = []')
        )
        result = perfbook(
            "triage", "--config", config, "--only", "prometheus,metrics,host", "--json", "--fail-on", "never"
        )
    assert result.exit_code == 0, result.stderr
    report = result.json
    assert report["probes"]["prometheus"]["status"] == "unavailable"
    assert f"127.0.0.1:{closed_port}" in report["probes"]["prometheus"]["reason"]
    assert [f["code"] for f in report["findings"] if f["code"].startswith("prometheus.")] == [
        "prometheus.unreachable"
    ]
    assert report["probes"]["host"]["status"] in ("ok", "partial")
    assert report["probes"]["metrics"]["status"] == "ok" and report["kpis"]["p95_source"] == "metrics"


def test_the_token_comes_from_the_environment_and_is_never_shown(perfbook, tmp_path, closed_port):
    config = _config(tmp_path, f"http://127.0.0.1:{closed_port}")
    path = tmp_path / "perfbook.toml"
    path.write_text(
        path.read_text().replace("timeout_s = 5\n", 'timeout_s = 5\ntoken_env = "PROM_TOKEN"\n', 1)
    )
    result = perfbook(
        "triage",
        "--config",
        config,
        "--only",
        "prometheus",
        "--json",
        "--fail-on",
        "never",
        env={"PROM_TOKEN": "s3cret-token-value"},
    )
    assert result.exit_code == 0, result.stderr
    assert "s3cret-token-value" not in result.stdout + result.stderr
    missing = perfbook(
        "triage",
        "--config",
        config,
        "--only",
        "prometheus",
        "--json",
        "--fail-on",
        "never",
        env={"PROM_TOKEN": None},
    )
    assert "PROM_TOKEN" in missing.json["probes"]["prometheus"]["reason"]


def test_the_fleets_verdict_matches_the_metrics_probe_against_the_slow_replica_alone(perfbook, fleet):
    prom, good, bad, node, tmp = fleet
    config = _config(tmp, prom.url)
    direct = tmp / "direct.toml"
    direct.write_text(
        open(config).read().replace('base_url = ""', f'base_url = "http://{bad.target}"\nendpoints = []')
    )
    alone = perfbook(
        "triage",
        "--config",
        str(direct),
        "--only",
        "metrics",
        "--window",
        "4s",
        "--json",
        "--fail-on",
        "never",
    ).json
    fleet_view = perfbook(
        "triage", "--config", config, "--only", "prometheus", "--json", "--fail-on", "never"
    ).json

    def slow(report):
        return {
            (f["code"], f["subject"], f["level"])
            for f in report["findings"]
            if f["code"] == "http.slow_response"
        }

    assert alone["probes"]["metrics"]["status"] == "ok", alone["probes"]["metrics"]
    assert slow(alone) == slow(fleet_view) == {("http.slow_response", ROUTE, "critical")}
    # the latency verdict is the same (P2: p95 over severity_p2_s); the 5xx verdict is not meant to be: the
    # replica alone fails one in five (P1 once it has served min_window_requests), the fleet's users about one
    # in seventy (P2), and the outlier finding names the replica
    assert 0.4 < alone["kpis"]["p95_s"] < 5 and 0.4 < fleet_view["kpis"]["p95_s"] < 5
    assert alone["severity"] in ("P1", "P2") and fleet_view["severity"] == "P2"
    assert f"{ROUTE}@{bad.target}" in {f["subject"] for f in fleet_view["findings"]}


# htpasswd -nbBC 5 perfbook 'pr0m-s3cret': Prometheus keeps only the bcrypt hash
HASH = "$2y$05$h2XYcuVXa66g59BMD9brC..VqYWt8rS1JIziP6/oUSYyK09MouYde"


def test_basic_auth_from_the_environment_against_a_prometheus_that_asks_for_it(perfbook, tmp_path):
    with Prometheus(tmp_path, [], basic_auth={"perfbook": HASH}) as prom:
        config = _config(tmp_path, prom.url)
        path = tmp_path / "perfbook.toml"
        path.write_text(
            path.read_text().replace(
                "timeout_s = 5\n", 'timeout_s = 5\nuser = "perfbook"\npassword_env = "PROM_PASSWORD"\n', 1
            )
        )
        let_in = perfbook(
            "triage",
            "--config",
            config,
            "--only",
            "prometheus",
            "--json",
            "--fail-on",
            "never",
            env={"PROM_PASSWORD": "pr0m-s3cret"},
        )
        refused = perfbook(
            "triage",
            "--config",
            config,
            "--only",
            "prometheus",
            "--json",
            "--fail-on",
            "never",
            env={"PROM_PASSWORD": "wrong"},
        )
    ev = let_in.json["probes"]["prometheus"]
    assert ev["status"] == "ok" and ev["evidence"]["notes"][0].startswith("no HTTP request series")
    assert refused.json["probes"]["prometheus"]["status"] == "unavailable"
    assert "answered 401" in refused.json["probes"]["prometheus"]["reason"]
    assert "pr0m-s3cret" not in let_in.stdout + let_in.stderr + refused.stdout + refused.stderr
