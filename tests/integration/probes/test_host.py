"""The host probe on this real machine: properties, not exact values; plus real children and a
fake log directory for the findings (a CPU burner, a sparse 1.1 GiB log file)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import SimpleNamespace

import psutil

from perfbook.config import Config
from perfbook.probes.host import PSEUDO_FS, HostProbe
from perfbook.probes.host_logs import scan_logs
from perfbook.rules import host as host_rules
from perfbook.rules import process as process_rules

from .probe_children import BURN, child, fake_perfbook, new_tag, overhead_allowed_s, run

GIB = 1024**3
MIB = 1024**2


def config(**sections: dict) -> Config:
    return Config.model_validate(sections)


async def test_host_probe_describes_this_machine_within_the_window_budget(tmp_path: Path):
    ev, wall_s = await run(
        HostProbe(), config(host={"log_dirs": ["/var/log", str(tmp_path / "absent")]}), 2.0
    )
    assert ev.status == "ok", ev.reason
    assert wall_s <= 2.0 + overhead_allowed_s(), wall_s  # sampled across W, then done
    h = ev.data
    assert h.hostname == socket.gethostname() and 1.9 <= h.window_s <= 2.3
    assert h.cpu.cores == psutil.cpu_count() == len(h.cpu.per_core_pct)
    assert h.cpu.samples >= 10 and 0 <= h.cpu.busy_pct <= h.cpu.max_interval_pct <= 100
    assert all(0 <= p <= 100 for p in h.cpu.per_core_pct) and h.cpu.load_1m is not None
    assert h.memory.total_bytes == psutil.virtual_memory().total and 0 < h.memory.used_pct < 100
    assert h.memory.swap_in_bytes >= 0 and h.memory.swap_out_bytes >= 0
    assert "/" in [m.mountpoint for m in h.mounts]
    assert len({m.device for m in h.mounts}) == len(h.mounts)  # one row per device
    assert not {m.fstype for m in h.mounts if m.mountpoint != "/"} & PSEUDO_FS
    assert [m.used_pct for m in h.mounts] == sorted((m.used_pct for m in h.mounts), reverse=True)
    assert 1 <= len(h.top_cpu) <= 5 and 1 <= len(h.top_memory) <= 5
    cpu = [p.cpu_pct for p in h.top_cpu]
    assert cpu == sorted(cpu, reverse=True)
    assert [p.rss_bytes for p in h.top_memory] == sorted((p.rss_bytes for p in h.top_memory), reverse=True)
    assert all(len(p.cmdline) <= 120 for p in h.top_cpu + h.top_memory)
    assert all(p.own for p in h.top_cpu + h.top_memory if p.pid == os.getpid())
    assert h.logs.missing_dirs == [str(tmp_path / "absent")] and h.logs.truncated is None
    kpis = host_rules.kpis({"host": ev}, Config())
    assert kpis["cpu_pct"] == h.cpu.busy_pct and kpis["disk_pct"] == h.mounts[0].used_pct


async def test_a_cpu_burner_not_configured_is_a_hog_with_matched_false():
    tag = new_tag()
    cfg = config(process={"match": ["nothing-matches-this"]}, thresholds={"process_cpu_pct": 10})
    with fake_perfbook() as own_pid, child(BURN, s=3, tag=tag) as burner:
        ev, _ = await run(HostProbe(), cfg, 1.5, own_pid=own_pid)
    top = {p.pid: p for p in ev.data.top_cpu}
    assert burner.pid in top and top[burner.pid].cpu_pct > 10  # a shared 2-core machine: some of a core
    assert top[burner.pid].matched_by is None and not top[burner.pid].own and tag in top[burner.pid].cmdline
    hogs = {f.subject: f for f in process_rules.evaluate({"host": ev}, cfg)}
    finding = hogs[f"{top[burner.pid].name}[{burner.pid}]"]
    assert finding.evidence["matched"] is False and finding.evidence["cpu_pct"] > 10


async def test_a_sparse_big_file_in_a_log_dir_is_a_large_log(tmp_path: Path):
    logs = tmp_path / "log"
    (logs / "app" / "deep").mkdir(parents=True)
    big = logs / "app" / "deep" / "api.log"
    with big.open("wb") as f:
        f.truncate(int(1.1 * GIB))  # sparse: 1.1 GiB apparent, nothing allocated
    (logs / "app" / "small.log").write_text("ok\n")
    (logs / "link.log").symlink_to(big)  # not followed: listed once
    cfg = config(host={"log_dirs": [str(logs)]})
    ev, _ = await run(HostProbe(), cfg, 0.5)
    scan = ev.data.logs
    assert [f.path for f in scan.large_files] == [str(big)] and scan.files_seen == 2
    assert scan.large_files[0].size_bytes == int(1.1 * GIB) and scan.large_files[0].disk_bytes < 1024 * 1024
    (finding,) = [f for f in host_rules.evaluate({"host": ev}, cfg) if f.code == "host.large_logs"]
    assert finding.subject == str(logs) and finding.level.value == "info"
    assert finding.evidence["files"][0]["path"] == str(big) and round(finding.value) == 1126
    assert all("rm " not in a.manual for a in finding.actions)


def test_the_log_walk_is_bounded(tmp_path: Path):
    for i in range(50):
        (tmp_path / f"f{i}.log").write_text("x")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "big.log").write_bytes(b"x" * 2048)
    assert scan_logs([str(tmp_path)], 1024, max_entries=10).truncated == "max entries 10"
    assert scan_logs([str(tmp_path)], 1024, max_depth=2).large_count == 0  # big.log is 3 levels down
    assert scan_logs([str(tmp_path)], 1024, max_depth=3).large_count == 1
    assert scan_logs([str(tmp_path)], 1024, budget_s=0.0).truncated == "time budget 0.0 s"


async def test_remote_targets_skip_the_host_probe_unless_forced():
    ev, wall_s = await run(HostProbe(), Config(), 0.5, local=False)
    assert ev.status == "skipped" and ev.reason.startswith("remote target") and wall_s < 0.2
    ev, _ = await run(HostProbe(), config(host={"remote": "force"}), 0.5, local=False)
    assert ev.status == "ok"


def test_triage_cli_runs_host_and_process(perfbook):
    result = perfbook("triage", "--only", "host,process", "--window", "1s", "--json", "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    report = result.json
    assert report["probes"]["host"]["status"] == "ok"
    assert report["probes"]["process"]["status"] in ("ok", "skipped")
    assert report["kpis"]["cpu_pct"] is not None and report["kpis"]["disk_pct"] is not None
    assert socket.gethostname() in report["target"]["host"]


class SwappingPsutil:
    """psutil itself, except that swap shows 4 MB written out per reading (this machine has no swap)."""

    def __init__(self) -> None:
        self.readings = 0

    def __getattr__(self, name: str):
        return getattr(psutil, name)

    def swap_memory(self) -> SimpleNamespace:
        self.readings += 1
        return SimpleNamespace(
            total=2 * GIB, used=GIB, free=GIB, percent=50.0, sin=0, sout=self.readings * 4 * MIB
        )


async def test_swapping_during_the_window_is_swap_used():
    ev, _ = await run(HostProbe(ps=SwappingPsutil()), Config(), 0.5)
    mem = ev.data.memory
    assert (mem.swap_in_bytes, mem.swap_out_bytes, mem.swap_used_bytes) == (0, 4 * MIB, GIB)
    (f,) = [f for f in host_rules.evaluate({"host": ev}, Config()) if f.code == "host.swap_used"]
    assert f.subject == socket.gethostname() and f.value == 4.0 and f.evidence["swap_out_mb"] == 4.0
    assert [a.manual for a in f.actions][0] == "vmstat 1 5"
