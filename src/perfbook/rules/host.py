"""Host rules: CPU, memory, swap activity, disk per mount and large logs of this machine (pure).

Levels: CPU, memory and disk are warnings over their threshold and critical at
95 %; swapping during the window is a warning; a log file over ``log_file_mb`` is info. Every
action's ``manual`` is a safe command a person can run as is (never ``rm``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config, Thresholds
from perfbook.evidence import usable
from perfbook.evidence.host import HostEvidence, TopProcess
from perfbook.model import Action, Evidence, Finding, Level

CRITICAL_PCT = 95.0  # CPU, memory and disk are critical from 95 %
MIB = 1024 * 1024

TOP_CPU = Action("host.top_cpu", "see which processes use the CPU",
                 "ps -eo pid,ppid,%cpu,%mem,etime,cmd --sort=-%cpu | head -15")
TOP_MEMORY = Action("host.top_memory", "see which processes hold the memory",
                    "ps -eo pid,ppid,rss,%mem,etime,cmd --sort=-rss | head -15")
SWAP_ACTIVITY = Action("host.swap_activity", "watch swap-in / swap-out (si / so columns) for 5 s", "vmstat 1 5")
ROTATE_LOGS = Action("host.rotate_logs", "rotate and compress logs now, as logrotate is configured",
                     "logrotate -v -f /etc/logrotate.conf")
VACUUM_JOURNAL = Action("host.vacuum_journal", "shrink the systemd journal to 500 MB", "journalctl --vacuum-size=500M")


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings from the host probe's evidence (none when it did not run)."""
    host = usable(evidence.get("host"), HostEvidence)
    if host is None:
        return []
    th = cfg.thresholds
    return [*_cpu(host, th), *_memory(host, th), *_swap(host), *_disks(host, th), *_logs(host, th)]


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
    return {"process": f"{p.name}[{p.pid}]", "cpu_pct": p.cpu_pct, "rss_mb": round(p.rss_bytes / MIB, 1),
            "matched": p.matched_by is not None, "own": p.own, "cmdline": p.cmdline}


def _cpu(host: HostEvidence, th: Thresholds) -> list[Finding]:
    cpu = host.cpu
    if cpu is None or cpu.busy_pct <= th.cpu_pct:
        return []
    top = [p for p in host.top_cpu if p.cpu_pct][:3]
    others = [p for p in top if not p.own]  # name the busiest process that is not perfbook itself
    lead = f"; top {others[0].name}[{others[0].pid}] {others[0].cpu_pct:.0f} % of a core" if others else ""
    return [finding(
        "host.cpu_high", host.hostname,
        f"CPU {cpu.busy_pct:.0f} % busy across the {host.window_s:.1f} s window ({cpu.cores} cores{lead})",
        value=cpu.busy_pct, threshold=th.cpu_pct, unit="% of all cores, window mean", level=_level(cpu.busy_pct),
        evidence={"cores": cpu.cores, "per_core_pct": cpu.per_core_pct, "max_interval_pct": cpu.max_interval_pct,
                  "samples": cpu.samples, "load_1m": cpu.load_1m, "top_cpu": [_proc(p) for p in top]},
        actions=[TOP_CPU],
    )]


def _memory(host: HostEvidence, th: Thresholds) -> list[Finding]:
    mem = host.memory
    if mem is None or mem.used_pct <= th.memory_pct:
        return []
    top = host.top_memory[:3]
    return [finding(
        "host.memory_high", host.hostname,
        f"memory {mem.used_pct:.0f} % used ({mem.available_bytes / MIB:.0f} MB available of {mem.total_bytes / MIB:.0f} MB)",
        value=mem.used_pct, threshold=th.memory_pct, unit="% of memory (total - available)", level=_level(mem.used_pct),
        evidence={"total_mb": round(mem.total_bytes / MIB), "available_mb": round(mem.available_bytes / MIB),
                  "swap_used_mb": round(mem.swap_used_bytes / MIB), "top_memory": [_proc(p) for p in top]},
        actions=[TOP_MEMORY],
    )]


def _swap(host: HostEvidence) -> list[Finding]:
    mem = host.memory
    if mem is None or mem.swap_in_bytes + mem.swap_out_bytes == 0:
        return []
    moved_mb = (mem.swap_in_bytes + mem.swap_out_bytes) / MIB
    return [finding(
        "host.swap_used", host.hostname,
        f"swapping during the window: {mem.swap_in_bytes / MIB:.1f} MB in, {mem.swap_out_bytes / MIB:.1f} MB out "
        f"in {host.window_s:.1f} s",
        value=round(moved_mb, 2), threshold=0.0, unit="MB swapped in + out during the window",
        evidence={"swap_in_mb": round(mem.swap_in_bytes / MIB, 2), "swap_out_mb": round(mem.swap_out_bytes / MIB, 2),
                  "swap_used_mb": round(mem.swap_used_bytes / MIB), "swap_total_mb": round(mem.swap_total_bytes / MIB),
                  "memory_used_pct": mem.used_pct, "top_memory": [_proc(p) for p in host.top_memory[:3]]},
        actions=[SWAP_ACTIVITY, TOP_MEMORY],
    )]


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
            look = Action("host.inode_usage", f"find the directories holding the most files on {m.mountpoint}",
                          f"du --inodes -x --max-depth=3 {where} 2>/dev/null | sort -n | tail -20")
        else:
            title = f"disk {m.mountpoint} {m.used_pct:.0f} % full ({m.free_bytes / MIB / 1024:.1f} GB free)"
            unit = "% of the filesystem used"
            look = Action("host.disk_usage", f"find what fills {m.mountpoint}",
                          f"du -xh --max-depth=2 {where} 2>/dev/null | sort -h | tail -20")
        actions = [look, Action(
            "host.deleted_open_files", "find deleted files still held open (their space is not freed yet)",
            "find /proc/[0-9]*/fd -lname '*(deleted)' -printf '%p -> %l\\n' 2>/dev/null | head -20")]
        if "/var/log".startswith(m.mountpoint.rstrip("/") + "/") or m.mountpoint == "/var/log":
            actions.append(VACUUM_JOURNAL)
        out.append(finding(
            "host.disk_high", m.mountpoint, title, value=value, threshold=th.disk_pct, unit=unit, level=_level(value),
            evidence={"device": m.device, "fstype": m.fstype, "used_pct": m.used_pct, "inodes_used_pct": m.inodes_used_pct,
                      "total_gb": round(m.total_bytes / MIB / 1024, 1), "free_gb": round(m.free_bytes / MIB / 1024, 1)},
            actions=actions,
        ))
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
        out.append(finding(
            "host.large_logs", root,
            f"{len(files)} log file(s) over {th.log_file_mb:.0f} MB under {root}; largest {largest.path} "
            f"{largest.size_bytes / MIB:.0f} MB",
            value=round(largest.size_bytes / MIB, 1), threshold=th.log_file_mb, unit="MB (largest file)",
            evidence={"files": [{"path": f.path, "size_mb": round(f.size_bytes / MIB, 1),
                                 "disk_mb": round(f.disk_bytes / MIB, 1), "modified_age_s": f.modified_age_s}
                                for f in files],
                      "large_count": logs.large_count, "walk_truncated": logs.truncated},
            actions=actions,
        ))
    return out
