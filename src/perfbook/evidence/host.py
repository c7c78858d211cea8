"""What the host probe hands ``rules/host.py`` and ``rules/process.py``: field names are the contract.

This machine only: CPU sampled across the window, memory and swap, disk per mount, top processes
by CPU and by memory, and the large log files of a bounded walk of ``[host] log_dirs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CpuStats:
    """Whole-machine CPU across the window (busy = not idle and not waiting on I/O)."""

    cores: int  # logical CPUs
    samples: int  # readings across the window (every W/10)
    busy_pct: float  # busy share of all cores over the whole window, 0–100
    max_interval_pct: float  # busiest interval between two consecutive samples, 0–100
    per_core_pct: list[float]  # each core's busy share over the window, 0–100
    load_1m: float | None  # load average (runnable + uninterruptible tasks), 1 minute
    load_5m: float | None  # 5-minute load average
    load_15m: float | None  # 15-minute load average


@dataclass
class MemoryStats:
    """Memory at the end of the window; swap activity during it."""

    total_bytes: int  # physical memory
    available_bytes: int  # what new work can get without swapping (MemAvailable)
    used_pct: float  # (total - available) / total, 0–100 (what `free` calls used, plus buffers kept)
    swap_total_bytes: int  # swap configured (0: no swap)
    swap_used_bytes: int  # swap holding pages now (may be old, idle pages)
    swap_in_bytes: int  # read back from swap during the window
    swap_out_bytes: int  # written to swap during the window


@dataclass
class MountUsage:
    """One real filesystem (pseudo filesystems skipped; one row per device, its shortest mount)."""

    mountpoint: str  # where it is mounted (the finding's subject)
    device: str  # block device or source, e.g. /dev/vda1
    fstype: str  # ext4, xfs, overlay …
    total_bytes: int  # filesystem size
    used_bytes: int  # bytes in use
    free_bytes: int  # available to unprivileged users (what `df` shows as Avail)
    used_pct: float  # used / (used + free), as `df` computes Use%, 0–100
    inodes_used_pct: float | None  # None where the filesystem has no inode limit


@dataclass
class TopProcess:
    """A process among the busiest by CPU over the window, or the largest by memory."""

    pid: int  # process id
    name: str  # the kernel's short name (comm)
    cmdline: str  # redacted, cut to 120 characters
    cpu_pct: float | None  # over the window, % of one core (200 = two cores); None if born late
    rss_bytes: int  # resident memory at the end of the window
    memory_pct: float  # rss / total memory, 0–100
    matched_by: str | None  # the [process] pattern or "pid" it matched; None = not configured
    own: bool  # perfbook itself or one of its children: never a finding


@dataclass
class HostEvidence:
    """What the host probe saw of this machine."""

    hostname: str  # this machine's name, as the report names it
    window_s: float  # measured length of the sampling window
    cpu: CpuStats | None  # None when the CPU counters could not be read
    memory: MemoryStats | None  # None when memory could not be read
    mounts: list[MountUsage] = field(default_factory=list)  # fullest first
    top_cpu: list[TopProcess] = field(default_factory=list)  # busiest first, over the window
    top_memory: list[TopProcess] = field(default_factory=list)  # largest RSS first
    logs: LogScan | None = None  # large files under [host] log_dirs
    problems: list[str] = field(default_factory=list)  # figures that could not be read, and why


@dataclass
class LogFile:
    """One log file over the limit."""

    path: str  # absolute path
    size_bytes: int  # apparent size (what `ls -l` shows, what rotation moves)
    disk_bytes: int  # blocks actually allocated (smaller for a sparse file)
    modified_age_s: float  # seconds since the last write: 0-ish means it is still being written


@dataclass
class LogScan:
    """What the bounded walk of the log directories found."""

    dirs: list[str]  # directories walked
    limit_bytes: int  # a file over this is large (thresholds.log_file_mb)
    files_seen: int  # regular files looked at
    large_files: list[LogFile] = field(default_factory=list)  # over the limit, largest first (≤ 20)
    large_count: int = 0  # files over the limit, including those not listed
    truncated: str | None = None  # why the walk stopped early ("time budget 1.0 s" …); None = complete
    missing_dirs: list[str] = field(default_factory=list)  # configured but absent
    unreadable_dirs: int = 0  # directories we may not list
    duration_s: float = 0.0  # time the walk took
