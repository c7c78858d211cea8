"""What the process probe hands the rules (``rules/process.py``): field names are the contract.

The configured processes (``[process] match`` / ``pids`` and their workers), RSS and CPU sampled
across the window; the rules fit the RSS samples (least-squares slope, R²).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WatchedProcess:
    """One configured process, sampled across the window."""

    pid: int  # process id
    name: str  # the kernel's short name (comm)
    cmdline: str  # redacted, cut to 120 characters
    matched_by: str  # the [process] pattern, "pid", or "child of PID" (a worker of a matched process)
    cpu_pct: float | None  # CPU over the window, % of one core (200 = two cores); None: < 2 samples
    rss_bytes: int | None  # resident memory at the last sample
    sample_t_s: list[float] = field(default_factory=list)  # seconds from the window's start
    sample_rss_bytes: list[int] = field(default_factory=list)  # RSS at each of those times
    exited: bool = False  # the process went away during the window
    unit: str | None = None  # the systemd service running it (from /proc/PID/cgroup), if any
    container_id: str | None = None  # the container it runs in (12 hex digits), if any
    age_s: float | None = None  # how long it had been running when the window started; None: unknown
    open_fds: int | None = None  # file descriptors open at the window's end; None: not readable
    fd_soft_limit: int | None = None  # its soft limit on open files (``ulimit -n``); None: not readable
    threads: int | None = None  # threads at the window's end
    cpu_periods: int | None = None  # CFS quota periods of its CPU cgroup in the window (None: no quota)
    cpu_throttled_share: float | None = None  # of those, the share in which the quota ran out, 0–1
    cpu_throttled_s: float | None = None  # time its cgroup's tasks waited for the next period


@dataclass
class ProcessEvidence:
    """The watched processes and how they were chosen."""

    patterns: list[str]  # [process] match
    pids: list[int]  # [process] pids
    window_s: float  # measured length of the sampling window
    processes: list[WatchedProcess] = field(default_factory=list)  # pattern matches first, then workers
    missing_pids: list[int] = field(default_factory=list)  # configured pids that do not exist
    own_excluded: int = 0  # matches left out because they are perfbook or its children
    not_watched: int = 0  # matches beyond MAX_WATCHED (the first ones by pid are watched)
