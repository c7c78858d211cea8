"""End-to-end: the lab under traffic, triaged in full; each fault gives its finding, health gives none.

The machine these run on is shared: when the report's own host figures say the CPU was
saturated during the window (or more tasks were runnable than it has cores), findings that only restate
that (host.cpu_high, a busy process that
is not the lab's, latency of the lab's Redis / WebSocket measured on a starved CPU) are tolerated
in the healthy scenario and printed; with a CPU under the threshold the healthy verdict is strict.
"""

from __future__ import annotations

import time

import pytest

from perfbook.lab import client
from perfbook.lab.state import LabState, process_tag

pytestmark = pytest.mark.e2e

LOAD_NOISE = {"host.cpu_high", "redis.latency_high", "ws.latency_high"}
MACHINE_NOISE = {"host.cpu_steal"}  # the hypervisor's, under this test machine: never the lab's


def _codes(report: dict) -> list[tuple[str, str, str]]:
    return [(f["code"], f["level"], f["subject"]) for f in report["findings"]]


def _alarms(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["level"] in ("critical", "warning")]


def _host_saturated(report: dict) -> bool:
    """The report's own host figures: CPU over 80 % in the window, or more runnable tasks than cores."""
    cpu_pct = (report.get("kpis") or {}).get("cpu_pct")
    cpu = ((report["probes"].get("host") or {}).get("evidence") or {}).get("cpu") or {}
    overloaded = cpu.get("load_1m") is not None and cpu["load_1m"] >= cpu.get("cores", 1)
    return (cpu_pct is not None and cpu_pct >= 80.0) or overloaded


def _is_load_noise(f: dict, lab: LabState) -> bool:
    if f["code"] in LOAD_NOISE:
        return True
    return f["code"] == "process.cpu_hog" and process_tag(lab.lab_id, "") not in f["subject"]


def test_healthy_lab_has_no_alarm(lab: LabState, triage) -> None:
    # an earlier scenario's held-up requests finish after its fault is off: not this lab's state
    quiet = client.wait_quiet(lab)
    report = triage()
    alarms = _alarms(report)
    steal = [f for f in alarms if f["code"] in MACHINE_NOISE]
    if steal:
        print(f"tolerated, the machine's: {[(f['code'], f['title']) for f in steal]}")
        alarms = [f for f in alarms if f not in steal]
    if _host_saturated(report):
        noise = [f for f in alarms if _is_load_noise(f, lab)]
        print(
            f"host CPU {report['kpis']['cpu_pct']} %, loaded: tolerated {[(f['code'], f['subject']) for f in noise]}"
        )
        alarms = [f for f in alarms if f not in noise]
    assert alarms == [], (quiet, _codes(report))
    assert report["severity"] == "OK", report["severity_reason"]
    failed = {name: p for name, p in report["probes"].items() if p["status"] == "error"}
    assert failed == {}


def test_slow_endpoint_is_named(lab: LabState, fault, triage) -> None:
    fault("slow", endpoint="/api/v1/agents", delay_s=3.0)
    time.sleep(1.0)
    report = triage()
    slow = [f for f in report["findings"] if f["code"] == "http.slow_response"]
    assert any(f["subject"] == "/api/v1/agents" and f["level"] == "critical" for f in slow), _codes(report)
    assert all(f["subject"] == "/api/v1/agents" for f in slow), _codes(report)
    assert "high_response_time" in report["issue_types"]
    assert report["severity"] in ("P2", "P1", "P0")


def test_errors_give_error_rate_high(lab: LabState, fault, triage) -> None:
    fault("errors", share=0.3)
    time.sleep(1.0)
    report = triage()
    errors = [f for f in report["findings"] if f["code"] == "http.error_rate_high"]
    assert errors and errors[0]["level"] == "critical", _codes(report)
    assert report["severity"] in ("P2", "P1", "P0")


def test_cpu_names_the_backend(lab: LabState, fault, triage) -> None:
    fault("cpu")
    time.sleep(1.0)
    report = triage()
    tag = process_tag(lab.lab_id, "api")
    hog = [f for f in report["findings"] if f["code"] == "process.cpu_hog" and tag in f["subject"]]
    host = [f for f in report["findings"] if f["code"] == "host.cpu_high" and tag in str(f["evidence"])]
    if not (hog or host) and _host_saturated(report):
        busiest = max((p["cpu_pct"] or 0 for p in _lab_processes(report, tag)), default=0)
        if busiest < 90:  # the scheduler, not triage: other work left the busy loop under a core
            pytest.skip(
                f"host CPU {report['kpis']['cpu_pct']:.0f} % busy with other work: "
                f"the backend's busy loop got {busiest:.0f} % of a core"
            )
    assert hog or host, _codes(report)
    assert "high_resource_usage" in report["issue_types"]


def _lab_processes(report: dict, tag: str) -> list[dict]:
    evidence = report["probes"].get("process", {}).get("evidence") or {}
    return [p for p in evidence.get("processes", []) if tag in p["name"] or tag in p["cmdline"]]


def test_leak_gives_memory_growth(lab: LabState, fault, triage) -> None:
    fault("leak")
    time.sleep(0.5)
    report = triage()
    tag = process_tag(lab.lab_id, "api")
    growth = [f for f in report["findings"] if f["code"] == "process.memory_growth" and tag in f["subject"]]
    assert growth and growth[0]["level"] == "warning", _codes(report)
