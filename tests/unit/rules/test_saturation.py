"""Host saturation rules (USE method) on recorded /proc trees (tests/fixtures/proc/<scenario>/{before,after}):
the readers, the window diffs and the rules together, on machines this one cannot be made into."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perfbook.config import Config, Thresholds
from perfbook.evidence.host import HostEvidence
from perfbook.model import Evidence, Level
from perfbook.probes import host_build, host_proc
from perfbook.rules import host as rules

TREES = Path(__file__).parents[2] / "fixtures" / "proc"
SATURATION_CODES = {
    "host.cpu_saturated",
    "host.cpu_steal",
    "host.memory_pressure",
    "host.oom_kill",
    "host.disk_io_saturated",
}


def host_from_tree(name: str, window_s: float = 2.0) -> HostEvidence:
    """What the host probe builds from two readings of the tree (the kernel log from its recorded kmsg)."""
    before, after = (
        host_proc.read_counters(TREES / name / "before"),
        host_proc.read_counters(TREES / name / "after"),
    )
    runnable = [
        r for root in ("before", "after") if (r := host_proc.read_runnable(TREES / name / root)) is not None
    ]
    kmsg = TREES / name / "kmsg"
    victims = (
        host_proc.parse_oom_records(kmsg.read_text().splitlines(), (before.uptime_s or 0) - 1)
        if kmsg.exists()
        else None
    )
    sat = host_build.saturation(before, after, window_s, runnable, victims)
    return HostEvidence(hostname="web-1", window_s=window_s, cpu=None, memory=None, saturation=sat)


def findings(host: HostEvidence, cfg: Config = Config()) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in rules.evaluate({"host": Evidence("host", "ok", 2.0, data=host)}, cfg):
        out.setdefault(f.code, []).append(f)
    return out


def test_a_quiet_machine_raises_no_saturation_code():
    host = host_from_tree("healthy")
    sat = host.saturation
    assert sat.cpu.psi.some_pct == 2.5 and sat.cpu.runnable_mean == 1 and sat.cpu.steal_pct == 0
    assert sat.disks[0].device == "vda" and [d.device for d in sat.disks] == ["vda"]  # no partition, no loop
    assert not SATURATION_CODES & set(findings(host))


def test_steal_on_a_vm_is_a_warning_with_its_share():
    host = host_from_tree("vm_steal")
    assert host.saturation.cpu.steal_pct == 30.0
    (f,) = findings(host)["host.cpu_steal"]
    assert (f.level, f.value, f.subject) == (Level.WARNING, 30.0, "web-1")
    assert "host.cpu_saturated" not in findings(host)  # stolen time is not a run queue


def test_an_overloaded_machine_shows_each_resource_saturated_from_window_deltas():
    host = host_from_tree("overloaded")
    sat = host.saturation
    # PSI totals are µs over the window; lifetime totals (they start at 0 here) never leak in
    assert (sat.cpu.psi.some_pct, sat.memory.psi.some_pct, sat.io_psi.some_pct, sat.io_psi.full_pct) == (
        80.0,
        20.0,
        60.0,
        30.0,
    )
    vda = sat.disks[0]
    assert (vda.util_pct, vda.await_ms, vda.reads_per_s, vda.queue_depth) == (100.0, 80.0, 100.0, 4.5)
    assert vda.read_bytes_per_s == 200 * 8 * 512 / 2
    assert sat.memory.major_faults_per_s == 2000.0 and sat.memory.oom_kills == 1  # 4 - 3, not 4
    got = findings(host)
    (cpu,) = got["host.cpu_saturated"]
    assert cpu.level == Level.CRITICAL and cpu.value == 80.0 and cpu.evidence["runnable_mean"] == 6
    (oom,) = got["host.oom_kill"]  # the victim of the window only, not an older one still in the log
    assert (oom.level, oom.subject, oom.evidence["cgroup"]) == (
        Level.CRITICAL,
        "python3[4242]",
        "/perfbook-test",
    )
    (disk,) = got["host.disk_io_saturated"]
    assert (disk.subject, disk.level, disk.value) == ("vda", Level.CRITICAL, 80.0)  # io full 30 % ≥ 20 %
    assert got["host.memory_pressure"][0].value == 20.0


def test_thresholds_move_the_verdicts():
    host = host_from_tree("overloaded")
    lenient = Config(
        thresholds=Thresholds(
            cpu_psi_pct=90,
            cpu_psi_critical_pct=95,
            memory_psi_pct=50,
            io_psi_pct=90,
            io_psi_full_pct=90,
            disk_await_ms=500,
        )
    )
    got = findings(host, lenient)
    assert set(got) & SATURATION_CODES == {"host.oom_kill"}  # a killed process is never a matter of threshold


def test_without_psi_only_a_run_queue_twice_the_cores_is_saturation():
    host = host_from_tree("overloaded")
    no_psi = replace(host.saturation, cpu=replace(host.saturation.cpu, psi=None))
    (f,) = findings(replace(host, saturation=no_psi))["host.cpu_saturated"]
    assert (f.level, f.value, f.threshold) == (Level.WARNING, 6, 4.0)
    short = replace(no_psi, cpu=replace(no_psi.cpu, runnable_mean=3.0))
    assert "host.cpu_saturated" not in findings(replace(host, saturation=short))


def test_an_oom_kill_with_an_unreadable_kernel_log_is_still_critical():
    host = host_from_tree("overloaded")
    mem = replace(host.saturation.memory, oom_victims=[], kernel_log="/dev/kmsg: Permission denied")
    (f,) = findings(replace(host, saturation=replace(host.saturation, memory=mem)))["host.oom_kill"]
    assert (f.subject, f.level, f.evidence["kernel_log"]) == (
        "web-1",
        Level.CRITICAL,
        "/dev/kmsg: Permission denied",
    )


def test_missing_files_read_as_unknown_never_as_zero(tmp_path):
    (tmp_path / "stat").write_text("cpu  1 0 1 10 0 0 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0 0 0\n")
    c = host_proc.read_counters(tmp_path)
    assert (c.psi, c.vmstat, c.disks, c.tcp, c.interfaces) == ({}, None, None, None, None)
    sat = host_build.saturation(c, c, 2.0)
    assert sat.cpu.psi is None and sat.memory is None and sat.io_psi is None and sat.disks == []


def test_a_counter_that_went_down_is_no_activity():
    p = host_build.pressure((5_000_000, 10), (1_000, 0), 2.0)
    assert (p.some_pct, p.full_pct) == (0.0, 0.0)
