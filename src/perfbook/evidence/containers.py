"""What the containers probe hands the rules and ``report/containers.py``: field names are the contract.

Built (purely) from what the engine answered by :mod:`perfbook.probes.containers_build`: state,
restarts, CPU / memory / I/O rates over the window, top processes, and the engine's disk use.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ContainerProcess:
    """One process inside a container, as ``top`` (ps) reports it."""

    pid: str | None  # pid inside the container, as the engine's top reports it
    cpu_pct: float | None  # ps %CPU: of one core, averaged since the process started
    rss_bytes: int | None  # resident memory
    command: str  # command line, truncated


@dataclass
class EngineDisk:
    """Engine-wide disk use (``docker system df``); reclaimable = what a prune frees, never volumes."""

    images: int  # images on the engine
    images_bytes: int  # their size
    containers: int  # containers, running or not
    containers_bytes: int  # writable layers
    volumes: int  # volumes (never pruned by perfbook)
    volumes_bytes: int  # their size, where the engine reports it
    dangling_images: int  # untagged images no container uses
    dangling_images_bytes: int  # their size
    stopped_containers: int  # containers not running
    stopped_containers_bytes: int  # their writable layers
    reclaimable_bytes: int  # dangling images no container uses + stopped containers' layers


@dataclass
class ContainerStats:
    """One container over the window: state, restarts, CPU, memory, I/O rates, processes, log."""

    name: str  # container name, without the leading /
    id: str  # first 12 hex digits
    image: str | None  # image reference it runs
    state: str  # running | restarting | paused | exited | dead …
    restart_count: int  # the engine's RestartCount (lifetime of the container)
    #: "always", "on-failure", "unless-stopped"; None = never restarted by the engine
    restart_policy: str | None
    exit_code: int | None  # the last exit code (from the last die event, else State.ExitCode when stopped)
    oom_killed: bool  # State.OOMKilled, or an oom event in the lookback
    started_at: str | None  # State.StartedAt, ISO time
    uptime_s: float | None  # since StartedAt, when running
    finished_ago_s: float | None  # since FinishedAt, when not running
    die_events: int = 0  # exits over the lookback and the window
    die_events_window: int = 0  # exits inside the window
    oom_events: int = 0  # oom events over the lookback and the window
    cpu_pct: float | None = None  # the judged figure: % of the CPU limit when set, else of one core × cores
    cpu_cores_pct: float | None = None  # % of ONE core, as `docker stats` shows it
    cpu_basis: str | None = None  # "limit" | "cores": what cpu_pct is a share of
    cpu_limit_cores: float | None = None  # --cpus (NanoCpus, or CpuQuota / CpuPeriod)
    online_cpus: int | None = None  # CPUs the container sees
    memory_bytes: int | None = None  # last sample, less inactive page cache where reported
    memory_max_bytes: int | None = None  # highest sample in the window
    memory_limit_bytes: int | None = None  # None: no limit (the host's memory is the only bound)
    memory_pct: float | None = None  # memory_bytes of memory_limit_bytes
    memory_slope_bytes_per_s: float | None = None  # least-squares over the samples (≥ 3)
    net_rx_bytes_per_s: float | None = None  # received over the window
    net_tx_bytes_per_s: float | None = None  # sent over the window
    block_read_bytes_per_s: float | None = None  # block device reads over the window
    block_write_bytes_per_s: float | None = None  # block device writes over the window
    pids: int | None = None  # processes (tasks) in the container
    #: CFS quota periods elapsed in the window (None: no quota, or not reported)
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None  # of those, periods in which the quota ran out
    cpu_throttled_s: float | None = None  # time its tasks waited for the next period, over the window
    cpu_throttled_share: float | None = None  # throttled / elapsed periods, 0–1
    cpu_throttling_source: str | None = None  # "engine" (stats' throttling_data) or "cgroup" (cpu.stat)
    samples: int = 0  # stats samples taken in the window
    processes: list[ContainerProcess] = field(default_factory=list)  # top by CPU and by RSS
    log_path: str | None = None  # the engine's log file for it, where exposed
    log_bytes: int | None = None  # size of that log file
    notes: list[str] = field(default_factory=list)  # what could not be read, and why


@dataclass
class ContainersEvidence:
    """What the containers probe saw of the engine and the containers that matter."""

    engine_url: str  # redacted
    engine: str  # "docker" | "podman"
    engine_version: str | None  # the engine's version (from /_ping headers)
    api_version: str | None  # Docker Engine API version spoken
    window_s: float  # the sampling window
    restart_lookback_s: float  # die events counted over this long before the window, and in it
    selection: str  # "all running", "names: api, worker", "labels: app=codexos"
    containers: list[ContainerStats] = field(default_factory=list)  # the selected containers
    disk: EngineDisk | None = None  # None when df did not answer in time
    notes: list[str] = field(default_factory=list)  # what could not be read, and why
