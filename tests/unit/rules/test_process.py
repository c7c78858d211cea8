"""Process rules on recorded evidence (a real leaking child, tests/fixtures/evidence/process.json),
with near misses on the slope, R², sample count and CPU thresholds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config, Thresholds
from perfbook.evidence.host import HostEvidence, TopProcess
from perfbook.evidence.process import ProcessEvidence, WatchedProcess
from perfbook.model import Evidence, Level
from perfbook.rules import process as rules

CFG = Config()
MIB = 1024 * 1024
TS = [round(i * 0.2, 1) for i in range(11)]  # 11 samples over a 2 s window


@pytest.fixture
def leak(recorded) -> WatchedProcess:
    """A child that allocated 5 MB every 100 ms, recorded by the real probe."""
    return recorded("process.json", ProcessEvidence).data.processes[0]


@pytest.fixture
def host(recorded) -> HostEvidence:
    return recorded("host.json", HostEvidence).data


def series(mb_per_min: float, noise_mb: float = 0.0, n: int = 11) -> tuple[list[float], list[int]]:
    """RSS climbing at ``mb_per_min`` from 100 MB, with ± ``noise_mb`` alternating noise."""
    ts = TS[:n]
    rss = [
        int((100 + mb_per_min / 60 * t + (noise_mb if i % 2 else -noise_mb)) * MIB) for i, t in enumerate(ts)
    ]
    return ts, rss


def proc(ts: list[float], rss: list[int], cpu_pct: float | None = 3.0, pid: int = 4242) -> WatchedProcess:
    return WatchedProcess(
        pid, "uvicorn", "uvicorn app:api --port 8001", "uvicorn", cpu_pct, rss[-1] if rss else None, ts, rss
    )


def judge(*processes: WatchedProcess, host: HostEvidence | None = None, cfg: Config = CFG):
    evidence = {
        "process": Evidence("process", "ok", 2.0, data=ProcessEvidence(["uvicorn"], [], 2.0, list(processes)))
    }
    if host is not None:
        evidence["host"] = Evidence("host", "ok", 2.0, data=host)
    return rules.evaluate(evidence, cfg)


def keys(findings) -> set[str]:
    return {f"{f.code}:{f.subject}" for f in findings}


def test_recorded_leak_is_memory_growth_in_mb_per_min(leak: WatchedProcess):
    (f,) = judge(leak)
    assert f.code == "process.memory_growth" and f.subject == f"{leak.name}[{leak.pid}]"
    assert f.level is Level.WARNING and f.unit.startswith("MB/min")
    assert 1500 < f.value < 4000  # 5 MB / 100 ms = 3000 MB/min, give or take the scheduler
    assert f.evidence["r2"] >= 0.9 and f.evidence["samples"] >= 10
    assert f.evidence["matched"] is True and "perfboo" in f.evidence["cmdline"]
    assert len(f.evidence["cmdline"]) <= 120


GROWTH_CASES = [
    ("flat", series(0.0), set()),
    ("slope just under the threshold", series(19.0), set()),
    ("slope just over", series(21.0), {"process.memory_growth:uvicorn[4242]"}),
    ("noisy: R² 0.89", series(60.0, noise_mb=0.22), set()),
    ("noisy but steady: R² 0.91", series(60.0, noise_mb=0.20), {"process.memory_growth:uvicorn[4242]"}),
    ("9 samples", series(600.0, n=9), set()),
    ("10 samples", series(600.0, n=10), {"process.memory_growth:uvicorn[4242]"}),
    ("shrinking", series(-600.0), set()),
    ("one sample", series(600.0, n=1), set()),
]


@pytest.mark.parametrize("name, data, expected", GROWTH_CASES, ids=[c[0] for c in GROWTH_CASES])
def test_memory_growth_gates(name: str, data, expected: set[str]):
    assert keys(judge(proc(*data))) == expected


CPU_CASES = [
    ("at the threshold", 90.0, set()),
    ("just over", 90.1, {"process.cpu_hog:uvicorn[4242]"}),
    ("two cores", 185.0, {"process.cpu_hog:uvicorn[4242]"}),
    ("not measured", None, set()),
]


@pytest.mark.parametrize("name, cpu_pct, expected", CPU_CASES, ids=[c[0] for c in CPU_CASES])
def test_cpu_hog_over_one_core_share(name: str, cpu_pct: float | None, expected: set[str]):
    assert keys(judge(proc(*series(0.0), cpu_pct=cpu_pct))) == expected


def test_cpu_hog_evidence_and_restart_action_for_a_configured_process():
    (f,) = judge(proc(*series(0.0), cpu_pct=120.0))
    assert f.evidence["cpu_pct"] == 120.0 and f.evidence["matched"] is True
    assert f.evidence["cmdline"] == "uvicorn app:api --port 8001" and f.evidence["rss_mb"] == 100.0
    assert [a.id for a in f.actions] == ["process.top_threads", "process.restart"]
    assert f.actions[1].command == "perfbook fix process.restart --name uvicorn --pid 4242"
    assert all("kill" not in a.manual for a in f.actions)


def hog(pid: int, cpu_pct: float, matched_by: str | None = None, own: bool = False) -> TopProcess:
    return TopProcess(pid, "stress", "stress --cpu 1", cpu_pct, 10 * MIB, 0.1, matched_by, own)


def test_unconfigured_hog_from_the_host_top_list_says_matched_false(host: HostEvidence):
    data = replace(
        host, top_cpu=[hog(777, 150.0), hog(778, 95.0, own=True), hog(4242, 99.0, "uvicorn"), hog(779, 90.0)]
    )
    findings = judge(proc(*series(0.0), cpu_pct=99.0), host=data)
    # no duplicate, no own
    assert keys(findings) == {"process.cpu_hog:stress[777]", "process.cpu_hog:uvicorn[4242]"}
    other = next(f for f in findings if f.subject == "stress[777]")
    assert other.evidence["matched"] is False and "not a configured process" in other.title
    assert other.level is Level.INFO  # the stack's verdict never depends on what else runs here
    assert [a.id for a in other.actions] == ["process.top_threads", "process.renice"]


def test_host_top_list_alone_still_finds_hogs_and_thresholds_come_from_config(host: HostEvidence):
    data = replace(host, top_cpu=[hog(777, 60.0)])
    evidence = {"host": Evidence("host", "ok", 2.0, data=data)}
    assert rules.evaluate(evidence, CFG) == []
    cfg = Config(thresholds=Thresholds(process_cpu_pct=50.0))
    assert keys(rules.evaluate(evidence, cfg)) == {"process.cpu_hog:stress[777]"}


def test_recorded_host_is_quiet_and_skipped_probes_give_nothing(host: HostEvidence):
    assert rules.evaluate({"host": Evidence("host", "ok", 2.0, data=host)}, CFG) == []
    assert rules.evaluate({"process": Evidence("process", "skipped", 0.0, reason="remote target")}, CFG) == []
    assert rules.evaluate({}, CFG) == []


@pytest.mark.parametrize(
    "unit, container_id, manual",
    [
        ("api.service", None, "systemctl restart api.service"),
        (None, "4f2a9c1e0b7d", "docker restart 4f2a9c1e0b7d"),
        (None, None, "systemctl status 4242 --no-pager"),
    ],
)
def test_restart_manual_names_the_service_or_container(unit, container_id, manual):
    p = replace(proc(*series(600.0), cpu_pct=99.0), unit=unit, container_id=container_id)
    findings = judge(p)
    assert {f.code for f in findings} == {"process.cpu_hog", "process.memory_growth"}
    for f in findings:
        restart = next(a for a in f.actions if a.id == "process.restart")
        assert restart.manual.startswith(manual)
        assert f.evidence.get("unit") == unit and f.evidence.get("container_id") == container_id


@pytest.mark.parametrize(
    "restart_commands, unit, name, manual",
    [
        ({}, None, "uvicorn", "systemctl status 4242"),  # nothing configured: the fix names the key to add
        ({"uvicorn": "supervisorctl restart api"}, None, "uvicorn", "supervisorctl restart api"),
        ({"api": "systemctl restart api"}, "api.service", "api", "systemctl restart api"),
        ({"backend": "x"}, "api.service", "uvicorn", "systemctl restart api.service"),
    ],
)
def test_restart_uses_the_configured_restart_command_key(restart_commands, unit, name, manual):
    cfg = Config.model_validate({"fix": {"restart_commands": restart_commands}})
    (f,) = judge(replace(proc(*series(0.0), cpu_pct=99.0), unit=unit), cfg=cfg)
    restart = f.actions[1]
    assert restart.params["name"] == name and restart.manual.startswith(manual)


def test_open_files_near_the_soft_limit_and_throttling_by_the_cgroup_quota():
    ts, rss = series(0.0)
    near = replace(proc(ts, rss), open_fds=925, fd_soft_limit=1024, threads=4)
    full = replace(proc(ts, rss, pid=4243), open_fds=1023, fd_soft_limit=1024)
    fine = replace(
        proc(ts, rss, pid=4244),
        open_fds=100,
        fd_soft_limit=1024,
        cpu_periods=20,
        cpu_throttled_share=0.1,
        cpu_throttled_s=0.2,
    )
    throttled = replace(proc(ts, rss, pid=4245), cpu_periods=20, cpu_throttled_share=0.9, cpu_throttled_s=1.4)
    few = replace(proc(ts, rss, pid=4246), cpu_periods=3, cpu_throttled_share=1.0, cpu_throttled_s=0.3)
    found = {(f.code, f.subject): f for f in judge(near, full, fine, throttled, few)}
    fds = found[("process.fd_exhaustion", "uvicorn[4242]")]
    assert (fds.value, fds.level, fds.evidence["threads"]) == (90.3, Level.WARNING, 4)
    assert found[("process.fd_exhaustion", "uvicorn[4243]")].level == Level.CRITICAL
    assert found[("process.cpu_throttled", "uvicorn[4245]")].value == 0.9
    assert {k for k in found if k[1] in ("uvicorn[4244]", "uvicorn[4246]")} == set()
