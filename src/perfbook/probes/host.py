"""Host probe: CPU sampled across the window, memory, swap activity, disk per mount, load, top
processes by CPU (over the window) and by memory, and large log files — of the machine perfbook
runs on (skipped for remote targets unless ``[host] remote = "force"``).

psutil is passed in (``HostProbe(ps=psutil)``), and so is the hostname, so tests can use fakes.
Evidence: :mod:`perfbook.evidence.host` (read by ``rules/host.py`` and ``rules/process.py``).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from perfbook.evidence.host import CpuStats, HostEvidence, HostSaturation, MemoryStats, MountUsage, TopProcess
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes import host_build, host_proc, procs
from perfbook.probes.base import BaseProbe, ProbeContext
from perfbook.probes.host_logs import scan_logs

TOP_N = 5  # processes listed by CPU and by memory
MIB = 1024 * 1024
# Filesystems that are never "the disk filling up": kernel views, or read-only images always 100 %.
PSEUDO_FS = frozenset(
    "proc sysfs devtmpfs devpts cgroup cgroup2 mqueue debugfs tracefs securityfs pstore bpf autofs "
    "fusectl configfs hugetlbfs nsfs ramfs binfmt_misc rpc_pipefs efivarfs selinuxfs squashfs iso9660 "
    "fuse.lxcfs fuse.snapfuse".split()
)


class HostProbe(BaseProbe):
    """Sample this machine for one window.

    ev = await HostProbe().collect(ctx)
    ev.data.cpu.busy_pct, ev.data.mounts[0].used_pct
    """

    name: ClassVar[str] = "host"
    requires = ("psutil",)  # imported by triage before the window (see probes/base.py)
    evidence = HostEvidence
    rules = "perfbook.rules.host"
    local = True

    def __init__(
        self,
        ps: Any = None,
        hostname: Callable[[], str] = socket.gethostname,
        proc_root: Path = Path("/proc"),
        kmsg: Path = Path("/dev/kmsg"),
    ) -> None:
        self._ps = ps if ps is not None else importlib.import_module("psutil")
        self._hostname = hostname
        self._proc = proc_root  # the saturation counters (run queue, PSI, vmstat, diskstats) are read here
        self._kmsg = kmsg  # the kernel log, read only when the window saw an OOM kill
        self._runnable: list[int] = []

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Sample CPU every W/10 across the window; read the rest at its ends."""
        procs.require_local(ctx)
        cfg, ps = ctx.config, self._ps
        logs = asyncio.create_task(
            asyncio.to_thread(
                scan_logs,
                list(cfg.host.log_dirs),
                int(cfg.thresholds.log_file_mb * MIB),
                budget_s=min(3.0, max(0.2, ctx.window_s * 0.9)),
            )
        )
        epoch0, t0 = time.time(), ctx.clock()
        swap0 = ps.swap_memory()
        counters0, self._runnable = host_proc.read_counters(self._proc, net=False), []
        io0 = asyncio.create_task(asyncio.to_thread(host_proc.read_process_io, self._proc))
        sampling = asyncio.create_task(self._sample_cpu(ctx, t0))
        try:
            # Process snapshots take 20–150 ms (more on a loaded host): take the first while CPU
            # sampling runs, and start the last early by as long, so the probe ends with the window.
            snap0, mid0, took_s = await _timed_snapshot(ps, ctx)
            await ctx.sleep(max(0.0, t0 + ctx.window_s - took_s - ctx.clock()))
            snap1, mid1, _ = await _timed_snapshot(ps, ctx)
            cpu = await sampling
        finally:  # cancelled by the budget, or a snapshot failed: leave no sampler behind
            sampling.cancel()
        elapsed_s = mid1 - mid0
        counters1, t1 = host_proc.read_counters(self._proc, net=False), ctx.clock()
        problems: list[str] = list(dict.fromkeys(counters0.problems + counters1.problems))
        saturation = await asyncio.to_thread(self._saturation, counters0, counters1, t1 - t0)
        if host_build.disk_busy(saturation):  # only then the second /proc/PID/io pass (~2 ms)
            before_io = await io0
            after_io = await asyncio.to_thread(host_proc.read_process_io, self._proc)
            names = {pid: host_proc.read_comm(self._proc, pid) for pid in after_io}
            saturation.top_io = host_build.top_io(before_io, after_io, t1 - t0, names, {ctx.own_pid})
        else:
            io0.cancel()
        memory = _memory(ps, swap0, problems)
        mounts = await asyncio.to_thread(read_mounts, ps, problems)
        top_cpu, top_mem = await asyncio.to_thread(
            self._top, ctx, snap0, snap1, elapsed_s, epoch0, memory.total_bytes if memory else 0
        )
        data = HostEvidence(
            hostname=self._hostname(),
            window_s=round(ctx.clock() - t0, 3),
            cpu=cpu,
            memory=memory,
            mounts=mounts,
            top_cpu=top_cpu,
            top_memory=top_mem,
            logs=await logs,
            problems=problems,
            saturation=saturation,
        )
        status: ProbeStatus = "partial" if problems or cpu is None else "ok"
        return Evidence(self.name, status, 0.0, reason="; ".join(problems) or None, data=data)

    async def _sample_cpu(self, ctx: ProbeContext, start: float) -> CpuStats | None:
        ps = self._ps
        first_all, first_core = ps.cpu_times(), ps.cpu_times(percpu=True)
        prev = first_all
        intervals: list[float] = []
        last_all, last_core = first_all, first_core
        for offset in ctx.sample_times()[1:]:
            await ctx.sleep(max(0.0, start + offset - ctx.clock()))
            last_all, last_core = ps.cpu_times(), ps.cpu_times(percpu=True)
            if (runnable := host_proc.read_runnable(self._proc)) is not None:
                self._runnable.append(runnable)
            pct = busy_pct(prev, last_all)
            if pct is not None:
                intervals.append(pct)
            prev = last_all
        window_pct = busy_pct(first_all, last_all)
        if window_pct is None:
            return None
        per_core = [busy_pct(a, b) for a, b in zip(first_core, last_core, strict=False)]
        load = _loadavg(ps)
        return CpuStats(
            cores=len(first_core) or (ps.cpu_count() or 1),
            samples=len(intervals) + 1,
            busy_pct=round(window_pct, 1),
            max_interval_pct=round(max(intervals, default=window_pct), 1),
            per_core_pct=[round(p or 0.0, 1) for p in per_core],
            load_1m=load[0],
            load_5m=load[1],
            load_15m=load[2],
        )

    def _saturation(
        self, before: host_proc.Counters, after: host_proc.Counters, window_s: float
    ) -> HostSaturation:
        """The saturation figures; the kernel log is read only when an OOM kill happened."""
        victims, why = None, None
        killed = (after.vmstat or {}).get("oom_kill", 0) - (before.vmstat or {}).get("oom_kill", 0)
        if killed > 0:
            try:
                since = (before.uptime_s or 0.0) - 1.0  # the log's clock is uptime; 1 s slack
                victims = host_proc.parse_oom_records(host_proc.read_kmsg(self._kmsg), since)
            except OSError as err:
                why = f"{self._kmsg}: {err.strerror or err}"
        return host_build.saturation(before, after, window_s, self._runnable, victims, why)

    def _top(
        self, ctx: ProbeContext, snap0: dict, snap1: dict, elapsed_s: float, epoch0: float, total_bytes: int
    ) -> tuple[list[TopProcess], list[TopProcess]]:
        cpu = procs.cpu_pct_between(snap0, snap1, elapsed_s, epoch0)
        own = procs.own_pids({pid: snap.ppid for pid, snap in snap1.items()}, ctx.own_pid)
        matcher = procs.Matcher(ctx.config.process.match, ctx.config.process.pids)
        by_cpu = sorted(cpu, key=lambda pid: cpu[pid], reverse=True)[:TOP_N]
        by_mem = sorted(snap1, key=lambda pid: snap1[pid].rss_bytes, reverse=True)[:TOP_N]

        def row(pid: int) -> TopProcess:
            snap = snap1[pid]
            full = procs.read_cmdline(self._ps, pid)
            return TopProcess(
                pid=pid,
                name=snap.name,
                cmdline=procs.display_cmdline(full),
                cpu_pct=round(cpu[pid], 1) if pid in cpu else None,
                rss_bytes=snap.rss_bytes,
                memory_pct=round(snap.rss_bytes / total_bytes * 100, 1) if total_bytes else 0.0,
                matched_by=matcher.match(snap.name, full, pid),
                own=pid in own,
            )

        rows = {pid: row(pid) for pid in dict.fromkeys(by_cpu + by_mem)}
        return [rows[p] for p in by_cpu], [rows[p] for p in by_mem]


async def _timed_snapshot(ps: Any, ctx: ProbeContext) -> tuple[dict[int, procs.ProcSnapshot], float, float]:
    """A process snapshot, the clock at its middle, and how long it took."""
    began = ctx.clock()
    snap = await asyncio.to_thread(procs.snapshot_all, ps)
    ended = ctx.clock()
    return snap, (began + ended) / 2, ended - began


def busy_pct(before: Any, after: Any) -> float | None:
    """Busy share (0–100) between two ``cpu_times`` readings, as psutil.cpu_percent computes it:
    idle and iowait are idle; guest time is already counted in user, so it is not added twice."""
    total = _total_s(after) - _total_s(before)
    idle = _idle_s(after) - _idle_s(before)
    if total <= 0:
        return None
    return min(100.0, max(0.0, (total - idle) / total * 100.0))


def _total_s(t: Any) -> float:
    return sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


def _idle_s(t: Any) -> float:
    return t.idle + getattr(t, "iowait", 0.0)


def read_mounts(ps: Any, problems: list[str]) -> list[MountUsage]:
    """Usage of each real filesystem, fullest first; ``/`` always included (overlay in containers)."""
    parts = list(ps.disk_partitions(all=False))
    if not any(p.mountpoint == "/" for p in parts):
        parts += [p for p in ps.disk_partitions(all=True) if p.mountpoint == "/"]
    chosen: dict[str, Any] = {}
    for part in parts:
        if part.fstype in PSEUDO_FS and part.mountpoint != "/":
            continue
        best = chosen.get(part.device)
        if best is None or len(part.mountpoint) < len(best.mountpoint):  # bind mounts: keep the shortest
            chosen[part.device] = part
    mounts = []
    for part in chosen.values():
        try:
            usage = ps.disk_usage(part.mountpoint)
        except OSError as err:
            problems.append(f"disk {part.mountpoint}: {err.strerror or err}")
            continue
        if usage.total == 0:
            continue
        mounts.append(
            MountUsage(
                mountpoint=part.mountpoint,
                device=part.device,
                fstype=part.fstype,
                total_bytes=usage.total,
                used_bytes=usage.used,
                free_bytes=usage.free,
                used_pct=round(usage.percent, 1),
                inodes_used_pct=_inodes_pct(part.mountpoint),
            )
        )
    return sorted(mounts, key=lambda m: m.used_pct, reverse=True)


def _inodes_pct(mountpoint: str) -> float | None:
    try:
        st = os.statvfs(mountpoint)
    except OSError:
        return None
    if st.f_files == 0:
        return None
    return round((st.f_files - st.f_ffree) / st.f_files * 100, 1)


def _memory(ps: Any, swap0: Any, problems: list[str]) -> MemoryStats | None:
    try:
        vm, swap1 = ps.virtual_memory(), ps.swap_memory()
    except OSError as err:
        problems.append(f"memory: {err}")
        return None
    return MemoryStats(
        total_bytes=vm.total,
        available_bytes=vm.available,
        used_pct=round((vm.total - vm.available) / vm.total * 100, 1) if vm.total else 0.0,
        swap_total_bytes=swap1.total,
        swap_used_bytes=swap1.used,
        swap_in_bytes=max(0, swap1.sin - swap0.sin),
        swap_out_bytes=max(0, swap1.sout - swap0.sout),
    )


def _loadavg(ps: Any) -> tuple[float | None, float | None, float | None]:
    try:
        one, five, fifteen = ps.getloadavg()
    except (OSError, AttributeError):
        return None, None, None
    return round(one, 2), round(five, 2), round(fifteen, 2)
