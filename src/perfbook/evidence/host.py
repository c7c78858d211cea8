"""What the host probe hands ``rules/host.py`` and ``rules/process.py``: field names are the contract.

This machine only: CPU sampled across the window, memory and swap, disk per mount, top processes
by CPU and by memory, the large log files of a bounded walk of ``[host] log_dirs``, and the
saturation and errors of each resource (USE method: run queue, steal, PSI, OOM kills, disk I/O).
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
    saturation: HostSaturation | None = None  # run queue, steal, PSI, OOM kills, disk I/O over the window


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


@dataclass
class Pressure:
    """Pressure stall information (``/proc/pressure/*``) of one resource, diffed over the window."""

    some_pct: float  # share of the window in which at least one task was stalled on it, 0–100
    full_pct: float | None  # share in which every non-idle task was stalled, 0–100 (None: not reported)


@dataclass
class CpuSaturation:
    """CPU saturation over the window: the run queue against the cores, steal, iowait, PSI cpu."""

    cores: int  # logical CPUs (the run queue is judged against these)
    samples: int  # run-queue readings across the window
    runnable_mean: float  # mean runnable tasks (``procs_running``, less the reader itself)
    runnable_max: int  # most runnable tasks in one reading
    steal_pct: float  # time the hypervisor ran someone else while this VM wanted the CPU, % of all cores
    iowait_pct: float  # idle time with I/O outstanding, % of all cores
    psi: Pressure | None  # PSI cpu over the window (None: kernel without PSI)


@dataclass
class OomVictim:
    """A process the kernel's OOM killer killed during the window (from the kernel log)."""

    pid: int  # the killed process's id
    name: str  # its short name (comm)
    cgroup: str | None  # the memory cgroup it was charged to (``task_memcg``), when logged
    limit_cgroup: str | None  # the cgroup whose limit was hit (``oom_memcg``), when logged


@dataclass
class MemoryPressure:
    """Memory saturation and errors over the window: PSI memory, faults, swap-in, OOM kills."""

    psi: Pressure | None  # PSI memory over the window (None: kernel without PSI)
    major_faults_per_s: float  # page faults that had to read from disk (``pgmajfault``), per second
    swap_in_pages_per_s: float  # pages read back from swap (``pswpin``), per second
    oom_kills: int  # processes killed by the OOM killer during the window (``oom_kill`` delta)
    #: the kernel log's names for them (if readable)
    oom_victims: list[OomVictim] = field(default_factory=list)
    #: why the victims are not named ("/dev/kmsg: permission denied"); None: read
    kernel_log: str | None = None


@dataclass
class DiskIo:
    """One block device over the window, as ``iostat -x`` shows it (from ``/proc/diskstats`` deltas)."""

    device: str  # kernel name, e.g. vda (partitions and virtual devices left out)
    reads_per_s: float  # completed reads per second
    writes_per_s: float  # completed writes per second
    read_bytes_per_s: float  # bytes read per second
    write_bytes_per_s: float  # bytes written per second
    await_ms: float | None  # mean time a read or write took, queue included (None: no I/O completed)
    util_pct: float  # share of the window the device had I/O in flight, 0–100
    queue_depth: float  # mean requests in flight (``aqu-sz``)


@dataclass
class ProcessIo:
    """A process among those reading or writing the most storage over the window (``pidstat -d``)."""

    pid: int  # process id
    name: str  # its short name (comm)
    read_bytes_per_s: float  # bytes it caused to be read from storage, per second
    write_bytes_per_s: float  # bytes it caused to be written to storage, per second


@dataclass
class HostSaturation:
    """The USE method's saturation and errors of this machine, every figure diffed over the window."""

    window_s: float  # seconds between the first and the last reading
    cpu: CpuSaturation | None  # None when /proc/stat could not be read
    memory: MemoryPressure | None  # None when /proc/vmstat could not be read
    io_psi: Pressure | None  # PSI io over the window (None: kernel without PSI)
    disks: list[DiskIo] = field(default_factory=list)  # whole block devices, busiest first
    #: most storage I/O first (≤ 5); read only when a disk is busy
    top_io: list[ProcessIo] = field(default_factory=list)
