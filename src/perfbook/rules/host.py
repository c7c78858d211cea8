"""Host rules: CPU, memory, swap activity, disk per mount and large logs of this machine (pure).

Levels: CPU, memory and disk are warnings over their threshold and critical at 95 %; swapping
during the window is a warning; a log file over ``log_file_mb`` is info. Saturation and errors
(the USE method, every figure diffed over the window): a run queue over the cores with tasks
stalled on CPU (PSI), steal, memory stalls, OOM kills (critical), a disk busy with long waits or
tasks stalled on I/O. Every
action's ``manual`` is a safe command a person can run as is (never ``rm``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config, Thresholds
from perfbook.evidence import usable
from perfbook.evidence.host import HostEvidence, HostSaturation, TopProcess
from perfbook.model import Action, Evidence, Finding, Level

CRITICAL_PCT = 95.0  # CPU, memory and disk are critical from 95 %
MIB = 1024 * 1024

TOP_CPU = Action(
    "host.top_cpu",
    "see which processes use the CPU",
    "ps -eo pid,ppid,%cpu,%mem,etime,cmd --sort=-%cpu | head -15",
)
TOP_MEMORY = Action(
    "host.top_memory",
    "see which processes hold the memory",
    "ps -eo pid,ppid,rss,%mem,etime,cmd --sort=-rss | head -15",
)
SWAP_ACTIVITY = Action(
    "host.swap_activity", "watch swap-in / swap-out (si / so columns) for 5 s", "vmstat 1 5"
)
ROTATE_LOGS = Action(
    "host.rotate_logs",
    "rotate and compress logs now, as logrotate is configured",
    "logrotate -v -f /etc/logrotate.conf",
)
VACUUM_JOURNAL = Action(
    "host.vacuum_journal", "shrink the systemd journal to 500 MB", "journalctl --vacuum-size=500M"
)


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings from the host probe's evidence (none when it did not run)."""
    host = usable(evidence.get("host"), HostEvidence)
    if host is None:
        return []
    th = cfg.thresholds
    return [
        *_cpu(host, th),
        *_memory(host, th),
        *_swap(host),
        *_disks(host, th),
        *_logs(host, th),
        *_saturation(host, th),
    ]


def kpis(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> dict[str, float | None]:
    """The host KPIs: CPU busy over the window, memory used, and the fullest mount (None: not measured)."""
    host = usable(evidence.get("host"), HostEvidence)
    if host is None:
        return {"cpu_pct": None, "memory_pct": None, "disk_pct": None}
    return {
        "cpu_pct": host.cpu.busy_pct if host.cpu else None,
        "memory_pct": host.memory.used_pct if host.memory else None,
        "disk_pct": max((m.used_pct for m in host.mounts), default=None),
    }


def _level(value: float) -> Level:
    return Level.CRITICAL if value >= CRITICAL_PCT else Level.WARNING


def _proc(p: TopProcess) -> dict[str, object]:
    return {
        "process": f"{p.name}[{p.pid}]",
        "cpu_pct": p.cpu_pct,
        "rss_mb": round(p.rss_bytes / MIB, 1),
        "matched": p.matched_by is not None,
        "own": p.own,
        "cmdline": p.cmdline,
    }


def _cpu(host: HostEvidence, th: Thresholds) -> list[Finding]:
    cpu = host.cpu
    if cpu is None or cpu.busy_pct <= th.cpu_pct:
        return []
    top = [p for p in host.top_cpu if p.cpu_pct][:3]
    others = [p for p in top if not p.own]  # name the busiest process that is not perfbook itself
    lead = f"; top {others[0].name}[{others[0].pid}] {others[0].cpu_pct:.0f} % of a core" if others else ""
    return [
        finding(
            "host.cpu_high",
            host.hostname,
            f"CPU {cpu.busy_pct:.0f} % busy across the {host.window_s:.1f} s window ({cpu.cores} cores{lead})",
            value=cpu.busy_pct,
            threshold=th.cpu_pct,
            unit="% of all cores, window mean",
            level=_level(cpu.busy_pct),
            evidence={
                "cores": cpu.cores,
                "per_core_pct": cpu.per_core_pct,
                "max_interval_pct": cpu.max_interval_pct,
                "samples": cpu.samples,
                "load_1m": cpu.load_1m,
                "top_cpu": [_proc(p) for p in top],
            },
            actions=[TOP_CPU],
        )
    ]


def _memory(host: HostEvidence, th: Thresholds) -> list[Finding]:
    mem = host.memory
    if mem is None or mem.used_pct <= th.memory_pct:
        return []
    top = host.top_memory[:3]
    return [
        finding(
            "host.memory_high",
            host.hostname,
            f"memory {mem.used_pct:.0f} % used "
            f"({mem.available_bytes / MIB:.0f} MB available of {mem.total_bytes / MIB:.0f} MB)",
            value=mem.used_pct,
            threshold=th.memory_pct,
            unit="% of memory (total - available)",
            level=_level(mem.used_pct),
            evidence={
                "total_mb": round(mem.total_bytes / MIB),
                "available_mb": round(mem.available_bytes / MIB),
                "swap_used_mb": round(mem.swap_used_bytes / MIB),
                "top_memory": [_proc(p) for p in top],
            },
            actions=[TOP_MEMORY],
        )
    ]


def _swap(host: HostEvidence) -> list[Finding]:
    mem = host.memory
    if mem is None or mem.swap_in_bytes + mem.swap_out_bytes == 0:
        return []
    moved_mb = (mem.swap_in_bytes + mem.swap_out_bytes) / MIB
    return [
        finding(
            "host.swap_used",
            host.hostname,
            f"swapping during the window: {mem.swap_in_bytes / MIB:.1f} MB in, {mem.swap_out_bytes / MIB:.1f} MB out "
            f"in {host.window_s:.1f} s",
            value=round(moved_mb, 2),
            threshold=0.0,
            unit="MB swapped in + out during the window",
            evidence={
                "swap_in_mb": round(mem.swap_in_bytes / MIB, 2),
                "swap_out_mb": round(mem.swap_out_bytes / MIB, 2),
                "swap_used_mb": round(mem.swap_used_bytes / MIB),
                "swap_total_mb": round(mem.swap_total_bytes / MIB),
                "memory_used_pct": mem.used_pct,
                "top_memory": [_proc(p) for p in host.top_memory[:3]],
            },
            actions=[SWAP_ACTIVITY, TOP_MEMORY],
        )
    ]


def _disks(host: HostEvidence, th: Thresholds) -> list[Finding]:
    """A mount over disk_pct of its space, or of its inodes (a full inode table fails writes too,
    and `df -h` does not show it)."""
    out = []
    for m in host.mounts:
        inodes = m.inodes_used_pct or 0.0
        by_inodes = inodes > m.used_pct
        value = inodes if by_inodes else m.used_pct
        if value <= th.disk_pct:
            continue
        where = shlex.quote(m.mountpoint)
        if by_inodes:
            title = f"disk {m.mountpoint} {inodes:.0f} % of inodes used ({m.used_pct:.0f} % of space)"
            unit = "% of the filesystem's inodes used"
            look = Action(
                "host.inode_usage",
                f"find the directories holding the most files on {m.mountpoint}",
                f"du --inodes -x --max-depth=3 {where} 2>/dev/null | sort -n | tail -20",
            )
        else:
            title = f"disk {m.mountpoint} {m.used_pct:.0f} % full ({m.free_bytes / MIB / 1024:.1f} GB free)"
            unit = "% of the filesystem used"
            look = Action(
                "host.disk_usage",
                f"find what fills {m.mountpoint}",
                f"du -xh --max-depth=2 {where} 2>/dev/null | sort -h | tail -20",
            )
        actions = [
            look,
            Action(
                "host.deleted_open_files",
                "find deleted files still held open (their space is not freed yet)",
                "find /proc/[0-9]*/fd -lname '*(deleted)' -printf '%p -> %l\\n' 2>/dev/null | head -20",
            ),
        ]
        if "/var/log".startswith(m.mountpoint.rstrip("/") + "/") or m.mountpoint == "/var/log":
            actions.append(VACUUM_JOURNAL)
        out.append(
            finding(
                "host.disk_high",
                m.mountpoint,
                title,
                value=value,
                threshold=th.disk_pct,
                unit=unit,
                level=_level(value),
                evidence={
                    "device": m.device,
                    "fstype": m.fstype,
                    "used_pct": m.used_pct,
                    "inodes_used_pct": m.inodes_used_pct,
                    "total_gb": round(m.total_bytes / MIB / 1024, 1),
                    "free_gb": round(m.free_bytes / MIB / 1024, 1),
                },
                actions=actions,
            )
        )
    return out


def _logs(host: HostEvidence, th: Thresholds) -> list[Finding]:
    logs = host.logs
    if logs is None or not logs.large_files:
        return []
    out = []
    for root in logs.dirs:
        files = [f for f in logs.large_files if f.path == root or f.path.startswith(root.rstrip("/") + "/")]
        if not files:
            continue
        largest = files[0]
        actions = [ROTATE_LOGS]
        if any("/journal/" in f.path for f in files):
            actions.append(VACUUM_JOURNAL)
        out.append(
            finding(
                "host.large_logs",
                root,
                f"{len(files)} log file(s) over {th.log_file_mb:.0f} MB under {root}; largest {largest.path} "
                f"{largest.size_bytes / MIB:.0f} MB",
                value=round(largest.size_bytes / MIB, 1),
                threshold=th.log_file_mb,
                unit="MB (largest file)",
                evidence={
                    "files": [
                        {
                            "path": f.path,
                            "size_mb": round(f.size_bytes / MIB, 1),
                            "disk_mb": round(f.disk_bytes / MIB, 1),
                            "modified_age_s": f.modified_age_s,
                        }
                        for f in files
                    ],
                    "large_count": logs.large_count,
                    "walk_truncated": logs.truncated,
                },
                actions=actions,
            )
        )
    return out


PSI_CPU = Action(
    "host.psi",
    "watch run queue (r), steal (st) and iowait (wa) for 5 s, and the stall shares",
    "vmstat 1 5; cat /proc/pressure/cpu /proc/pressure/memory /proc/pressure/io",
)
OOM_LOG = Action(
    "host.oom_log",
    "read the OOM killer's reports in the kernel log",
    "dmesg -T | grep -iE 'killed process|out of memory|oom-kill' | tail -20",
)
IOSTAT = Action(
    "host.iostat",
    "watch each device's IOPS, await and utilisation, and who does the I/O",
    "iostat -xz 1 5; pidstat -d 1 5",
)


def _saturation(host: HostEvidence, th: Thresholds) -> list[Finding]:
    sat = host.saturation
    if sat is None:
        return []
    return [
        *_cpu_saturated(host.hostname, sat, th),
        *_steal(host.hostname, sat, th),
        *_memory_pressure(host.hostname, sat, th),
        *_oom(host.hostname, sat),
        *_disk_io(host.hostname, sat, th),
    ]


def _cpu_saturated(name: str, sat: HostSaturation, th: Thresholds) -> list[Finding]:
    """PSI cpu some over the threshold with more runnable tasks than cores; without PSI, a run queue
    twice the cores. Either alone is not saturation: a short burst, or a queue that never waits."""
    cpu = sat.cpu
    if cpu is None or cpu.runnable_mean <= cpu.cores:
        return []
    if cpu.psi is not None:
        if cpu.psi.some_pct < th.cpu_psi_pct:
            return []
        value, unit, threshold = (
            cpu.psi.some_pct,
            "% of the window with tasks waiting for CPU (PSI)",
            th.cpu_psi_pct,
        )
    elif cpu.runnable_mean >= 2 * cpu.cores:
        value, unit, threshold = cpu.runnable_mean, "runnable tasks, window mean", float(2 * cpu.cores)
    else:
        return []
    critical = cpu.psi is not None and cpu.psi.some_pct >= th.cpu_psi_critical_pct
    stalled = f", tasks waited for CPU {cpu.psi.some_pct:.0f} % of the window" if cpu.psi else ""
    return [
        finding(
            "host.cpu_saturated",
            name,
            f"CPU saturated: {cpu.runnable_mean:.1f} runnable tasks on {cpu.cores} cores on average (max "
            f"{cpu.runnable_max}){stalled}",
            value=value,
            threshold=threshold,
            unit=unit,
            level=Level.CRITICAL if critical else None,
            evidence={
                "cores": cpu.cores,
                "runnable_mean": cpu.runnable_mean,
                "runnable_max": cpu.runnable_max,
                "psi_some_pct": cpu.psi.some_pct if cpu.psi else None,
                "steal_pct": cpu.steal_pct,
                "iowait_pct": cpu.iowait_pct,
                "samples": cpu.samples,
            },
            actions=[PSI_CPU, TOP_CPU],
        )
    ]


def _steal(name: str, sat: HostSaturation, th: Thresholds) -> list[Finding]:
    cpu = sat.cpu
    if cpu is None or cpu.steal_pct < th.cpu_steal_pct:
        return []
    return [
        finding(
            "host.cpu_steal",
            name,
            f"CPU steal {cpu.steal_pct:.0f} %: the hypervisor ran other guests while this VM wanted the CPU",
            value=cpu.steal_pct,
            threshold=th.cpu_steal_pct,
            unit="% of all cores' time, over the window",
            evidence={"cores": cpu.cores, "steal_pct": cpu.steal_pct, "runnable_mean": cpu.runnable_mean},
            actions=[
                PSI_CPU,
                Action(
                    "host.cpu_steal",
                    "ask the provider for a dedicated or larger instance "
                    "(steal is not fixable inside the guest)",
                    "mpstat -P ALL 1 5",
                ),
            ],
        )
    ]


def _memory_pressure(name: str, sat: HostSaturation, th: Thresholds) -> list[Finding]:
    mem = sat.memory
    if mem is None:
        return []
    if mem.psi is not None:
        if mem.psi.some_pct < th.memory_psi_pct:
            return []
        value, threshold, unit = (
            mem.psi.some_pct,
            th.memory_psi_pct,
            "% of the window with tasks stalled on memory (PSI)",
        )
    elif mem.major_faults_per_s >= 1000:  # no PSI: a thousand disk reads a second to page memory in
        value, threshold, unit = mem.major_faults_per_s, 1000.0, "major page faults per second"
    else:
        return []
    return [
        finding(
            "host.memory_pressure",
            name,
            f"memory pressure: {value:.0f} {unit}; {mem.major_faults_per_s:.0f} major faults/s, "
            f"{mem.swap_in_pages_per_s:.0f} pages/s swapped in",
            value=value,
            threshold=threshold,
            unit=unit,
            evidence={
                "psi_some_pct": mem.psi.some_pct if mem.psi else None,
                "psi_full_pct": mem.psi.full_pct if mem.psi else None,
                "major_faults_per_s": mem.major_faults_per_s,
                "swap_in_pages_per_s": mem.swap_in_pages_per_s,
            },
            actions=[TOP_MEMORY, SWAP_ACTIVITY],
        )
    ]


def _oom(name: str, sat: HostSaturation) -> list[Finding]:
    mem = sat.memory
    if mem is None or mem.oom_kills <= 0:
        return []
    common = {"oom_kills": mem.oom_kills, "kernel_log": mem.kernel_log}
    if not mem.oom_victims:
        return [
            finding(
                "host.oom_kill",
                name,
                f"the OOM killer killed {mem.oom_kills} process(es) during the window",
                value=float(mem.oom_kills),
                threshold=0.0,
                unit="processes killed in the window",
                evidence=common,
                actions=[OOM_LOG, TOP_MEMORY],
            )
        ]
    out = []
    for v in mem.oom_victims:
        where = f" in cgroup {v.cgroup}" if v.cgroup else ""
        limit = f" (limit of {v.limit_cgroup} reached)" if v.limit_cgroup and v.limit_cgroup != "/" else ""
        out.append(
            finding(
                "host.oom_kill",
                f"{v.name}[{v.pid}]",
                f"the OOM killer killed {v.name}[{v.pid}]{where}{limit}",
                value=float(mem.oom_kills),
                threshold=0.0,
                unit="processes killed in the window",
                evidence={
                    **common,
                    "pid": v.pid,
                    "name": v.name,
                    "cgroup": v.cgroup,
                    "limit_cgroup": v.limit_cgroup,
                },
                actions=[OOM_LOG, TOP_MEMORY],
            )
        )
    return out


def _disk_io(name: str, sat: HostSaturation, th: Thresholds) -> list[Finding]:
    """A device busy most of the window with long waits; or, with no such device, tasks stalled
    on I/O (PSI io). Critical when every task was stalled (PSI io full) a large share."""
    psi = sat.io_psi
    critical = psi is not None and psi.full_pct is not None and psi.full_pct >= th.io_psi_full_pct
    level = Level.CRITICAL if critical else None
    psi_ev = {
        "psi_some_pct": psi.some_pct if psi else None,
        "psi_full_pct": psi.full_pct if psi else None,
        "top_io": [
            {
                "process": f"{p.name}[{p.pid}]",
                "read_mb_per_s": round(p.read_bytes_per_s / MIB, 1),
                "write_mb_per_s": round(p.write_bytes_per_s / MIB, 1),
            }
            for p in sat.top_io[:3]
        ],
    }
    lead = (
        (
            f"; most I/O: {sat.top_io[0].name}[{sat.top_io[0].pid}] "
            f"{(sat.top_io[0].read_bytes_per_s + sat.top_io[0].write_bytes_per_s) / MIB:.0f} MB/s"
        )
        if sat.top_io
        else ""
    )
    out = []
    for d in sat.disks:
        if d.util_pct < th.disk_util_pct or (d.await_ms or 0.0) < th.disk_await_ms:
            continue
        out.append(
            finding(
                "host.disk_io_saturated",
                d.device,
                f"disk {d.device} busy {d.util_pct:.0f} % of the window, I/O waits {d.await_ms:.0f} ms on average "
                f"({d.reads_per_s + d.writes_per_s:.0f} IOPS, queue {d.queue_depth:.1f}){lead}",
                value=d.await_ms,
                threshold=th.disk_await_ms,
                unit="ms per I/O (await), window mean",
                level=level,
                evidence={
                    "util_pct": d.util_pct,
                    "await_ms": d.await_ms,
                    "queue_depth": d.queue_depth,
                    "reads_per_s": d.reads_per_s,
                    "writes_per_s": d.writes_per_s,
                    "read_mb_per_s": round(d.read_bytes_per_s / MIB, 1),
                    "write_mb_per_s": round(d.write_bytes_per_s / MIB, 1),
                    **psi_ev,
                },
                actions=[IOSTAT],
            )
        )
    if not out and psi is not None and (psi.some_pct >= th.io_psi_pct or critical):
        busiest = sat.disks[0] if sat.disks else None
        out.append(
            finding(
                "host.disk_io_saturated",
                name,
                f"tasks stalled on I/O {psi.some_pct:.0f} % of the window"
                + (f" (busiest disk {busiest.device}: {busiest.util_pct:.0f} % busy)" if busiest else "")
                + lead,
                value=psi.some_pct,
                threshold=th.io_psi_pct,
                unit="% of the window with tasks stalled on I/O (PSI)",
                level=level,
                evidence={**psi_ev, "busiest_device": busiest.device if busiest else None},
                actions=[IOSTAT],
            )
        )
    return out
