"""Pure builders: two :class:`~perfbook.probes.host_proc.Counters` readings -> the host's saturation.

Every figure is a delta between the window's first and last reading divided by the window; a
counter that went down (a device re-attached, a wrapped 32-bit field) counts as no activity, never
as a negative rate.
"""

from __future__ import annotations

from perfbook.evidence.host import (
    CpuSaturation,
    DiskIo,
    HostSaturation,
    MemoryPressure,
    OomVictim,
    Pressure,
    ProcessIo,
)
from perfbook.probes.host_proc import SECTOR_BYTES, Counters


def _d(after: int, before: int) -> int:
    return max(0, after - before)


def pressure(
    before: tuple[int, int | None] | None, after: tuple[int, int | None] | None, window_s: float
) -> Pressure | None:
    """PSI stall shares of the window from two (some, full) totals in µs.

    >>> pressure((1_000_000, 0), (1_500_000, 100_000), 2.0)
    Pressure(some_pct=25.0, full_pct=5.0)
    """
    if before is None or after is None or window_s <= 0:
        return None
    us = window_s * 1e6
    some = min(100.0, _d(after[0], before[0]) / us * 100)
    full = None
    if before[1] is not None and after[1] is not None:
        full = round(min(100.0, _d(after[1], before[1]) / us * 100), 1)
    return Pressure(some_pct=round(some, 1), full_pct=full)


def cpu_saturation(
    before: Counters, after: Counters, window_s: float, runnable: list[int]
) -> CpuSaturation | None:
    """Run queue (from ``runnable`` readings across the window), steal and iowait, PSI cpu."""
    if before.cpu_ticks is None or after.cpu_ticks is None:
        return None
    delta = {k: _d(after.cpu_ticks[k], before.cpu_ticks.get(k, 0)) for k in after.cpu_ticks}
    total = sum(delta.values())
    share = (lambda k: round(delta.get(k, 0) / total * 100, 1)) if total else (lambda k: 0.0)
    return CpuSaturation(
        cores=after.cores or 1,
        samples=len(runnable),
        runnable_mean=round(sum(runnable) / len(runnable), 2) if runnable else 0.0,
        runnable_max=max(runnable, default=0),
        steal_pct=share("steal"),
        iowait_pct=share("iowait"),
        psi=pressure(before.psi.get("cpu"), after.psi.get("cpu"), window_s),
    )


def memory_pressure(
    before: Counters,
    after: Counters,
    window_s: float,
    victims: list[tuple[int, str, str | None, str | None]] | None = None,
    kernel_log: str | None = None,
) -> MemoryPressure | None:
    """PSI memory, major faults and swap-in per second, and the OOM kills of the window."""
    if before.vmstat is None or after.vmstat is None or window_s <= 0:
        return None

    def delta(key: str) -> int:
        return (
            _d(after.vmstat.get(key, 0), before.vmstat.get(key, 0)) if after.vmstat and before.vmstat else 0
        )

    kills = delta("oom_kill")
    return MemoryPressure(
        psi=pressure(before.psi.get("memory"), after.psi.get("memory"), window_s),
        major_faults_per_s=round(delta("pgmajfault") / window_s, 1),
        swap_in_pages_per_s=round(delta("pswpin") / window_s, 1),
        oom_kills=kills,
        oom_victims=[OomVictim(pid, name, memcg, limit) for pid, name, memcg, limit in victims or []],
        kernel_log=kernel_log if kills else None,
    )


def disk_io(before: Counters, after: Counters, window_s: float) -> list[DiskIo]:
    """``iostat -x`` per whole device over the window, busiest first."""
    if before.disks is None or after.disks is None or window_s <= 0:
        return []
    ms = window_s * 1000
    out = []
    for name, b in after.disks.items():
        a0 = before.disks.get(name)
        if a0 is None:
            continue  # attached during the window: no start to diff from
        reads, writes = _d(b.reads, a0.reads), _d(b.writes, a0.writes)
        wait_ms = _d(b.read_ms, a0.read_ms) + _d(b.write_ms, a0.write_ms)
        out.append(
            DiskIo(
                device=name,
                reads_per_s=round(reads / window_s, 1),
                writes_per_s=round(writes / window_s, 1),
                read_bytes_per_s=round(_d(b.read_sectors, a0.read_sectors) * SECTOR_BYTES / window_s, 1),
                write_bytes_per_s=round(_d(b.write_sectors, a0.write_sectors) * SECTOR_BYTES / window_s, 1),
                await_ms=round(wait_ms / (reads + writes), 2) if reads + writes else None,
                util_pct=round(min(100.0, _d(b.io_ticks_ms, a0.io_ticks_ms) / ms * 100), 1),
                queue_depth=round(_d(b.weighted_ms, a0.weighted_ms) / ms, 2),
            )
        )
    return sorted(out, key=lambda d: (d.util_pct, d.reads_per_s + d.writes_per_s), reverse=True)


def saturation(
    before: Counters,
    after: Counters,
    window_s: float,
    runnable: list[int] | None = None,
    victims: list[tuple[int, str, str | None, str | None]] | None = None,
    kernel_log: str | None = None,
) -> HostSaturation:
    """The whole host saturation evidence from two readings ``window_s`` apart."""
    return HostSaturation(
        window_s=round(window_s, 3),
        cpu=cpu_saturation(before, after, window_s, runnable or []),
        memory=memory_pressure(before, after, window_s, victims, kernel_log),
        io_psi=pressure(before.psi.get("io"), after.psi.get("io"), window_s),
        disks=disk_io(before, after, window_s),
    )


def top_io(
    before: dict[int, tuple[int, int]],
    after: dict[int, tuple[int, int]],
    window_s: float,
    names: dict[int, str],
    exclude: set[int] | None = None,
    n: int = 5,
) -> list[ProcessIo]:
    """The ``n`` processes with the most storage bytes over the window (born during it: left out).

    >>> top_io({1: (0, 0), 2: (10, 0)}, {1: (4096, 2048), 2: (10, 0), 3: (9, 9)}, 2.0, {1: "fio"})
    [ProcessIo(pid=1, name='fio', read_bytes_per_s=2048.0, write_bytes_per_s=1024.0)]
    """
    if window_s <= 0:
        return []
    moved = {
        pid: (_d(a[0], before[pid][0]), _d(a[1], before[pid][1]))
        for pid, a in after.items()
        if pid in before and pid not in (exclude or set())
    }
    busiest = sorted(
        (pid for pid in moved if sum(moved[pid])), key=lambda pid: sum(moved[pid]), reverse=True
    )[:n]
    return [
        ProcessIo(
            pid, names.get(pid, "?"), round(moved[pid][0] / window_s, 1), round(moved[pid][1] / window_s, 1)
        )
        for pid in busiest
    ]


def disk_busy(sat: HostSaturation) -> bool:
    """Worth naming the processes doing the I/O: a device half busy, or tasks stalled on I/O."""
    return any(d.util_pct >= 50 for d in sat.disks) or (sat.io_psi is not None and sat.io_psi.some_pct >= 10)
