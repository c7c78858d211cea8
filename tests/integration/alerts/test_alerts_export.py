"""``perfbook alerts rules | export`` as a user runs them, checked by real promtool, amtool and Alertmanager.

promtool (Debian's ``prometheus`` package) checks the exported rules and runs the exported tests;
the same tests are run against the runbook's own two broken rules to show they tell the difference.
amtool checks the Alertmanager config, and a real Alertmanager (on a free loopback port, gossip off)
loads it and reports the perfbook receiver.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from perfbook import services


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if services.require_services():
            pytest.fail(f"{name} is not installed (scripts/system-deps.sh installs it)")
        pytest.skip(f"{name} is not installed here")
    return path


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def export(perfbook, tmp_path: Path, config_text: str = "") -> dict:
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text(config_text)
    (tmp_path / "tests").mkdir(exist_ok=True)
    result = perfbook(
        "alerts",
        "export",
        "--config",
        str(cfg),
        "--prometheus",
        str(tmp_path / "rules.yml"),
        "--tests",
        str(tmp_path / "tests" / "rules_test.yml"),
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    return result.json


def test_exported_rules_pass_promtool_check_and_their_own_tests(perfbook, tmp_path):
    promtool = tool("promtool")
    summary = export(perfbook, tmp_path)
    assert summary["prometheus"]["rules"] == 15 and summary["prometheus"]["skipped"] == []
    check = run([promtool, "check", "rules", "rules.yml"], tmp_path)
    assert check.returncode == 0 and "SUCCESS: 15 rules found" in check.stdout, check.stdout + check.stderr
    tested = run([promtool, "test", "rules", "rules_test.yml"], tmp_path / "tests")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    doc = yaml.safe_load((tmp_path / "rules.yml").read_text())
    rules = doc["groups"][0]["rules"]
    for rule in rules:  # what the issue asks of each: for, severity, summary, runbook_url
        assert rule["for"] and rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook_url"]
    tests = yaml.safe_load((tmp_path / "tests" / "rules_test.yml").read_text())["tests"]
    for name in [r["alert"] for r in rules]:  # each rule fires in one world and stays quiet in another
        mine = [t for t in tests if t["name"].startswith(name + ":")]
        assert any(t["alert_rule_test"][0]["exp_alerts"] for t in mine), name
        assert any(not t["alert_rule_test"][0]["exp_alerts"] for t in mine), name


def test_error_share_not_rate_a_busy_service_with_rare_errors_stays_quiet(perfbook, tmp_path):
    promtool = tool("promtool")
    export(perfbook, tmp_path)
    tests = yaml.safe_load((tmp_path / "tests" / "rules_test.yml").read_text())["tests"]
    by_name = {t["name"]: t for t in tests}
    busy = by_name[
        "HighErrorRate: quiet: 0.5% 5xx at 1000 rps (5 errors/s, which the runbook's absolute rule "
        "would page on)"
    ]
    small = by_name["HighErrorRate: fires: 10% 5xx at 10 rps (1 errors/s)"]
    assert busy["alert_rule_test"][0]["exp_alerts"] == []
    assert (
        small["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"]["summary"]
        == "5xx share 10% of requests to app (limit 1%)"
    )
    # The runbook's two rules, as it writes them, in place of ours: our tests catch both.
    doc = yaml.safe_load((tmp_path / "rules.yml").read_text())
    for rule in doc["groups"][0]["rules"]:
        if rule["alert"] == "HighErrorRate":
            rule["expr"] = 'rate(http_requests_total{status=~"5.."}[5m]) > 0.01'
        if rule["alert"] == "HighCPUUsage":
            rule["expr"] = 'container_cpu_usage_seconds_total{name="api"} > 0.8'
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    failed = run([promtool, "test", "rules", "rules_test.yml"], tmp_path / "tests")
    assert failed.returncode != 0
    assert "0.5% 5xx at 1000 rps" in failed.stdout + failed.stderr
    assert "HighCPUUsage: quiet" in failed.stdout + failed.stderr  # a cumulative counter is always "over 0.8"


def test_changed_thresholds_user_rules_and_label_spellings_still_pass(perfbook, tmp_path):
    promtool = tool("promtool")
    text = """
[http]
min_window_requests = 50
health_path = "/healthz"

[thresholds]
p95_s = 0.75
error_rate = 0.05
cpu_pct = 90
dead_tuple_ratio = 0.3
connections_pct = 70

[alerts]
prometheus_selector = 'job="api"'
prometheus_range = "2m"
duration_histogram = "flask_http_request_duration_seconds"
requests_counter = "flask_http_request_duration_seconds_count"
container_selector = 'name="backend"'

[[alerts.rules]]
name = "LowCacheHitRate"
when = "cache_hit_rate < 0.8"
for = "30s"

[[alerts.rules]]
name = "SlowCheckout"
when = "p95_s >= 0.3"
for = "1m"
severity = "critical"
summary = "checkout {value} on {subject} (limit {threshold}) {{literal}}"

[[alerts.rules]]
name = "IdleTransactions"
when = "finding pg.idle_in_transaction"
"""
    summary = export(perfbook, tmp_path, text)
    assert summary["prometheus"]["skipped"] == [
        {
            "rule": "IdleTransactions",
            "reason": "no standard exporter metric for finding pg.idle_in_transaction",
        }
    ]
    assert run([promtool, "check", "rules", "rules.yml"], tmp_path).returncode == 0
    tested = run([promtool, "test", "rules", "rules_test.yml"], tmp_path / "tests")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = {
        r["alert"]: r for r in yaml.safe_load((tmp_path / "rules.yml").read_text())["groups"][0]["rules"]
    }
    assert 'flask_http_request_duration_seconds_bucket{job="api"' in rules["HighResponseTime"]["expr"]
    assert "> 0.75" in rules["HighResponseTime"]["expr"] and ">= 50" in rules["HighResponseTime"]["expr"]
    assert rules["SlowCheckout"]["labels"]["severity"] == "critical"
    assert rules["SlowCheckout"]["annotations"]["summary"].endswith("(limit 0.30 s) {literal}")


def test_a_bad_when_is_one_line_and_exit_2(perfbook, tmp_path):
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text('[[alerts.rules]]\nname = "SlowApi"\nwhen = "latency > 2"\n')
    for args in (["alerts", "rules"], ["alerts", "export", "--prometheus", str(tmp_path / "r.yml")]):
        result = perfbook(*args, "--config", str(cfg))
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(
            f'error: {cfg}:1: alerts.rules: rule "SlowApi": when "latency > 2": '
            "unknown figure 'latency' (allowed: p95_s, error_rate"
        )
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "r.yml").exists()


def test_usage_errors_write_nothing(perfbook, tmp_path):
    assert perfbook("alerts", "export").exit_code == 2
    result = perfbook("alerts", "export", "--tests", str(tmp_path / "t.yml"))
    assert result.exit_code == 2 and "--tests needs --prometheus" in result.stderr
    result = perfbook(
        "alerts",
        "export",
        "--prometheus",
        str(tmp_path / "r.yml"),
        "--tests",
        str(tmp_path / "missing" / "t.yml"),
    )
    assert result.exit_code == 2 and "is not a writable directory" in result.stderr
    assert list(tmp_path.iterdir()) == []  # the rules file was not written either
    result = perfbook(
        "alerts", "export", "--alertmanager", str(tmp_path / "am.yml"), env={"PERFBOOK_SERVE_TOKEN": ""}
    )
    assert (
        result.exit_code == 2 and "PERFBOOK_SERVE_TOKEN" in result.stderr and "--token-file" in result.stderr
    )


def test_alerts_rules_json_is_one_document(perfbook, tmp_path):
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text('[[alerts.rules]]\nname = "HighCPUUsage"\nenabled = false\n')
    result = perfbook("alerts", "rules", "--config", str(cfg), "--json")
    names = [r["name"] for r in json.loads(result.stdout)["rules"]]
    assert result.exit_code == 0 and "HighCPUUsage" not in names and names[0] == "HighResponseTime"
    table = perfbook("alerts", "rules", "--config", str(cfg))
    assert (
        "PostgresConnectionsSaturated" in table.stdout and "finding pg.connections_saturated" in table.stdout
    )


def test_alertmanager_config_passes_amtool_and_a_real_alertmanager_loads_it(perfbook, tmp_path):
    amtool, alertmanager = tool("amtool"), tool("prometheus-alertmanager")
    secret = "s3cr3t-token-for-test"
    path = tmp_path / "alertmanager.yml"
    result = perfbook(
        "alerts",
        "export",
        "--alertmanager",
        str(path),
        "--serve-url",
        "http://127.0.0.1:8080/",
        env={"PERFBOOK_SERVE_TOKEN": secret},
    )
    assert result.exit_code == 0 and secret not in result.stdout + result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the token
    check = run([amtool, "check-config", str(path)], tmp_path)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
    doc = yaml.safe_load(path.read_text())
    hook = doc["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:8080/hooks/alertmanager" and hook["send_resolved"] is True
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials": secret}
    assert doc["route"]["repeat_interval"] == "4h"
    assert doc["inhibit_rules"][0]["source_matchers"] == ['alertname=~"BackendUnreachable"']
    status = _loaded_by_alertmanager(alertmanager, path, tmp_path)
    assert "hooks/alertmanager" in status["config"]["original"] and secret not in json.dumps(status)


def test_token_file_keeps_the_secret_out_of_the_config(perfbook, tmp_path):
    amtool = tool("amtool")
    token = tmp_path / "perfbook.token"
    token.write_text("from-a-file\n")
    path = tmp_path / "am.yml"
    result = perfbook(
        "alerts",
        "export",
        "--alertmanager",
        str(path),
        "--token-file",
        str(token),
        "--json",
        env={"PERFBOOK_SERVE_TOKEN": "not-this-one"},
    )
    assert result.exit_code == 0 and "not-this-one" not in path.read_text()
    auth = yaml.safe_load(path.read_text())["receivers"][0]["webhook_configs"][0]["http_config"][
        "authorization"
    ]
    assert auth == {"type": "Bearer", "credentials_file": str(token)}
    assert result.json["alertmanager"]["token"] == f"read by Alertmanager from {token}"
    assert run([amtool, "check-config", str(path)], tmp_path).returncode == 0


def _loaded_by_alertmanager(binary: str, config: Path, tmp_path: Path) -> dict:
    """Start a real Alertmanager on a free loopback port with ``config``; its /api/v2/status; stop it."""
    port = services.free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v2/status", timeout=1)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
            assert time.monotonic() < deadline, "alertmanager did not answer"
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
