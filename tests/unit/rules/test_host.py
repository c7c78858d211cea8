"""Host rules and KPIs on recorded evidence (tests/fixtures/evidence/host.json), with near misses."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import replace
from typing import Any

import pytest

from perfbook.config import Config, Thresholds
from perfbook.evidence.host import HostEvidence, LogFile, MountUsage
from perfbook.model import Evidence, Level
from perfbook.probes.host import busy_pct
from perfbook.probes.procs import ProcSnapshot, cpu_pct_between
from perfbook.rules import host as rules

CFG = Config()
GIB = 1024**3


@pytest.fixture
def base(recorded) -> HostEvidence:
    """This machine, recorded idle-ish: no finding at the default thresholds."""
    return recorded("host.json", HostEvidence).data


def mount(path: str, used_pct: float, device: str = "/dev/vdb") -> MountUsage:
    return MountUsage(
        path, device, "ext4", 100 * GIB, int(used_pct * GIB), int((100 - used_pct) * GIB), used_pct, 3.0
    )


def with_cpu(h: HostEvidence, pct: float) -> HostEvidence:
    return replace(h, cpu=replace(h.cpu, busy_pct=pct))


def with_memory(h: HostEvidence, pct: float, swap_in: int = 0, swap_out: int = 0) -> HostEvidence:
    return replace(h, memory=replace(h.memory, used_pct=pct, swap_in_bytes=swap_in, swap_out_bytes=swap_out))


def with_logs(h: HostEvidence, *files: LogFile) -> HostEvidence:
    return replace(h, logs=replace(h.logs, large_files=list(files), large_count=len(files)))


def judge(data: HostEvidence, status: str = "ok", cfg: Config = CFG) -> dict[str, Level]:
    findings = rules.evaluate({"host": Evidence("host", status, 2.0, data=data)}, cfg)
    return {f"{f.code}:{f.subject}": f.level for f in findings}


W, C, INFO = Level.WARNING, Level.CRITICAL, Level.INFO

CASES: list[tuple[str, Any, dict[str, Level]]] = [
    ("recorded machine", lambda h: h, {}),
    ("cpu at the threshold", lambda h: with_cpu(h, 80.0), {}),
    ("cpu just over", lambda h: with_cpu(h, 80.1), {"host.cpu_high:vm": W}),
    ("cpu under critical", lambda h: with_cpu(h, 94.9), {"host.cpu_high:vm": W}),
    ("cpu critical", lambda h: with_cpu(h, 95.0), {"host.cpu_high:vm": C}),
    ("memory near miss", lambda h: with_memory(h, 79.9), {}),
    ("memory high", lambda h: with_memory(h, 85.0), {"host.memory_high:vm": W}),
    ("memory critical", lambda h: with_memory(h, 96.0), {"host.memory_high:vm": C}),
    ("swap used but idle", lambda h: replace(h, memory=replace(h.memory, swap_used_bytes=GIB)), {}),
    ("swapping out", lambda h: with_memory(h, 50.0, swap_out=4096), {"host.swap_used:vm": W}),
    ("swapping in", lambda h: with_memory(h, 50.0, swap_in=8 * 4096), {"host.swap_used:vm": W}),
    ("disk at the threshold", lambda h: replace(h, mounts=[mount("/data", 85.0)]), {}),
    ("disk over", lambda h: replace(h, mounts=[mount("/data", 85.1)]), {"host.disk_high:/data": W}),
    (
        "disk critical, one of two",
        lambda h: replace(h, mounts=[mount("/data", 97.0), mount("/", 40.0, "/dev/vda")]),
        {"host.disk_high:/data": C},
    ),
    (
        "inodes at the threshold",
        lambda h: replace(h, mounts=[replace(mount("/data", 20.0), inodes_used_pct=85.0)]),
        {},
    ),
    (
        "inodes exhausted, space free",
        lambda h: replace(h, mounts=[replace(mount("/data", 20.0), inodes_used_pct=99.0)]),
        {"host.disk_high:/data": C},
    ),
    ("log just under", lambda h: with_logs(h), {}),
    (
        "large log",
        lambda h: with_logs(h, LogFile("/var/log/app/app.log", 3 * GIB, 4096, 0.5)),
        {"host.large_logs:/var/log": INFO},
    ),
]


@pytest.mark.parametrize("name, change, expected", CASES, ids=[c[0] for c in CASES])
def test_host_rules(base: HostEvidence, name: str, change, expected: dict[str, Level]):
    assert judge(change(base)) == expected


def test_every_action_is_a_safe_manual_command(base: HostEvidence):
    data = with_logs(
        with_memory(with_cpu(base, 99.0), 99.0, swap_out=4096),
        LogFile("/var/log/journal/x/system.journal", 2 * GIB, 2 * GIB, 30.0),
    )
    data = replace(data, mounts=[mount("/", 99.0, "/dev/vda")])
    findings = rules.evaluate({"host": Evidence("host", "ok", 2.0, data=data)}, CFG)
    assert {f.code for f in findings} == {
        "host.cpu_high",
        "host.memory_high",
        "host.swap_used",
        "host.disk_high",
        "host.large_logs",
    }
    for f in findings:
        assert f.actions, f.code
        for a in f.actions:
            assert a.manual and "rm " not in a.manual and "pkill" not in a.manual
    disk = next(f for f in findings if f.code == "host.disk_high")
    assert "du -xh --max-depth=2 /" in disk.actions[0].manual
    assert any("journalctl --vacuum-size" in a.manual for a in disk.actions)  # / holds /var/log
    logs = next(f for f in findings if f.code == "host.large_logs")
    assert logs.evidence["files"][0]["path"] == "/var/log/journal/x/system.journal"
    assert logs.value == 2048.0 and logs.threshold == 1024.0
    assert any("journalctl --vacuum-size" in a.manual for a in logs.actions)


def test_cpu_finding_names_the_top_process_and_thresholds_come_from_config(base: HostEvidence):
    cfg = Config(thresholds=Thresholds(cpu_pct=40.0))
    findings = rules.evaluate({"host": Evidence("host", "ok", 2.0, data=with_cpu(base, 50.0))}, cfg)
    (f,) = findings
    assert f.value == 50.0 and f.threshold == 40.0 and f.level is Level.WARNING
    assert f.evidence["top_cpu"] and f.evidence["top_cpu"][0]["process"] in f.title


def test_kpis_from_recorded_evidence(base: HostEvidence):
    data = replace(base, mounts=[mount("/", 40.0, "/dev/vda"), mount("/data", 91.5)])
    kpis = rules.kpis({"host": Evidence("host", "ok", 2.0, data=data)}, CFG)
    assert kpis == {"cpu_pct": base.cpu.busy_pct, "memory_pct": base.memory.used_pct, "disk_pct": 91.5}


@pytest.mark.parametrize("status", ["unavailable", "skipped", "error"])
def test_no_findings_and_null_kpis_when_the_probe_did_not_run(base: HostEvidence, status: str):
    ev = {"host": Evidence("host", status, 0.0, reason="remote target")}
    assert rules.evaluate(ev, CFG) == []
    assert rules.kpis(ev, CFG) == {"cpu_pct": None, "memory_pct": None, "disk_pct": None}
    assert rules.kpis({}, CFG) == {"cpu_pct": None, "memory_pct": None, "disk_pct": None}


def test_partial_evidence_gives_null_for_what_was_not_measured(base: HostEvidence):
    data = replace(base, cpu=None, mounts=[])
    kpis = rules.kpis({"host": Evidence("host", "partial", 2.0, data=data)}, CFG)
    assert kpis["cpu_pct"] is None and kpis["disk_pct"] is None and kpis["memory_pct"] == base.memory.used_pct


_CpuTimes = namedtuple("_CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")


def CpuTimes(**kw: float):  # noqa: N802 - reads like psutil's scputimes
    """A stand-in for psutil's scputimes namedtuple."""
    return _CpuTimes(**{f: float(kw.get(f, 0.0)) for f in _CpuTimes._fields})


@pytest.mark.parametrize(
    "before, after, expected",
    [
        (CpuTimes(user=10, idle=10), CpuTimes(user=15, idle=15), 50.0),
        (CpuTimes(idle=10), CpuTimes(idle=12, iowait=2), 0.0),  # waiting on I/O is not busy
        (CpuTimes(user=5, guest=5, idle=0), CpuTimes(user=9, guest=9, idle=4), 50.0),  # guest is inside user
        (CpuTimes(user=1), CpuTimes(user=1), None),  # no time passed
    ],
)
def test_busy_pct_matches_psutil_cpu_percent_semantics(before, after, expected):
    assert busy_pct(before, after) == expected


def snap(pid: int, cpu_s: float, created: float = 100.0) -> ProcSnapshot:
    return ProcSnapshot(pid, 1, "p", cpu_s, 0, created)


def test_process_cpu_over_the_window_handles_births_and_pid_reuse():
    start = {1: snap(1, 10.0), 2: snap(2, 5.0), 3: snap(3, 1.0)}
    end = {1: snap(1, 11.5), 2: snap(2, 0.4, created=1000.5), 4: snap(4, 0.2, created=1000.2)}
    cpu = cpu_pct_between(start, end, elapsed_s=2.0, start_epoch_s=1000.0)
    assert cpu == {1: 75.0, 2: 20.0, 4: 10.0}  # 3 exited; 2 is a new process on a reused pid


def test_cpu_finding_never_names_perfbook_itself_as_the_top_process(base: HostEvidence):
    own, other = replace(base.top_cpu[0], pid=1, name="perfbook", cpu_pct=40.0, own=True), base.top_cpu[1]
    data = replace(with_cpu(base, 90.0), top_cpu=[own, other])
    (f,) = rules.evaluate({"host": Evidence("host", "ok", 2.0, data=data)}, CFG)
    assert f"{other.name}[{other.pid}]" in f.title and "perfbook[1]" not in f.title
    assert f.evidence["top_cpu"][0]["own"] is True  # still shown, marked


def test_inode_exhaustion_says_inodes_and_suggests_counting_files(base: HostEvidence):
    data = replace(base, mounts=[replace(mount("/data", 20.0), inodes_used_pct=90.0)])
    (f,) = rules.evaluate({"host": Evidence("host", "ok", 2.0, data=data)}, CFG)
    assert "inodes" in f.title and "inodes" in f.unit and f.value == 90.0 and f.level is Level.WARNING
    assert f.actions[0].manual.startswith("du --inodes -x --max-depth=3 /data")
