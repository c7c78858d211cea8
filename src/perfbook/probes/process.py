"""Process probe: the configured processes (``[process] match`` patterns, ``pids``, and their
children — uvicorn / gunicorn workers), RSS and CPU sampled across the window (≥ 10 samples).

perfbook's own process and its children are never watched, even when a pattern matches them
(children in a session of their own — the lab's services — are not perfbook: they are watched).
psutil is passed in (``ProcessProbe(ps=psutil)``). Evidence: :mod:`perfbook.evidence.process`, read by
``rules/process.py``, which fits the RSS samples (least-squares slope, R²) and judges CPU.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from perfbook.evidence.process import ProcessEvidence, WatchedProcess
from perfbook.model import Evidence
from perfbook.probes import host_proc, procs
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped

MAX_WATCHED = 64  # a broad pattern ("python") must not turn the probe into a full process table
MIN_SAMPLES = 10  # the growth rule needs at least this many RSS samples


@dataclass
class _Target:
    handle: Any  # psutil.Process
    row: WatchedProcess
    cpu_s: list[float] = field(default_factory=list)
    cgroup: str = ""  # /proc/PID/cgroup, to find its CPU cgroup's throttling counters
    throttling0: tuple[int, int, int] | None = None  # cpu.stat at the window's start


class ProcessProbe(BaseProbe):
    """Watch the configured processes for one window.

    ev = await ProcessProbe().collect(ctx)
    [(p.name, p.cpu_pct, p.rss_bytes) for p in ev.data.processes]
    """

    name: ClassVar[str] = "process"
    requires = ("psutil",)  # imported by triage before the window (see probes/base.py)
    evidence = ProcessEvidence
    rules = "perfbook.rules.process"
    local = True

    def __init__(
        self, ps: Any = None, proc_root: Path = Path("/proc"), now: Callable[[], float] = time.time
    ) -> None:
        self._ps = ps if ps is not None else importlib.import_module("psutil")
        self._proc_root = proc_root
        self._now = now  # wall clock, to compare with a process's create_time

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Find the processes at the window's start, then read each at every sample time."""
        procs.require_local(ctx)
        cfg = ctx.config.process
        if not cfg.match and not cfg.pids:
            raise ProbeSkipped("no [process] match patterns or pids configured")
        start = ctx.clock()
        data, targets = await asyncio.to_thread(self._find, ctx)
        for at in _sample_clock(ctx, start, ctx.clock()):
            await ctx.sleep(max(0.0, at - ctx.clock()))
            await asyncio.to_thread(_read_all, targets, start, ctx.clock)
        await asyncio.to_thread(_read_limits, targets, self._ps)
        for target in targets:
            target.row.cpu_pct = _cpu_pct(target)
            data.processes.append(target.row)
        data.window_s = round(ctx.clock() - start, 3)
        reason = (
            None if targets else f"no process matches {', '.join(cfg.match) or '-'} / pids {cfg.pids or '-'}"
        )
        return Evidence(self.name, "ok", 0.0, reason=reason, data=data)

    def _find(self, ctx: ProbeContext) -> tuple[ProcessEvidence, list[_Target]]:
        cfg = ctx.config.process
        matcher = procs.Matcher(cfg.match, cfg.pids)
        info: dict[int, tuple[str, str, int]] = {}  # pid -> (name, full cmdline, ppid)
        for proc in self._ps.process_iter(["name", "cmdline", "ppid"]):
            i = proc.info
            info[proc.pid] = (i.get("name") or "?", " ".join(i.get("cmdline") or ()), i.get("ppid") or 0)
        direct = {pid: m for pid, (name, cmd, _) in info.items() if (m := matcher.match(name, cmd, pid))}
        parents = {pid: ppid for pid, (_, _, ppid) in info.items()}
        chosen = dict(direct)
        for pid in sorted(procs.descendants(parents, set(direct))):
            chosen[pid] = f"child of {_matched_ancestor(parents, pid, direct)}"
        own = procs.own_pids(parents, ctx.own_pid)
        data = ProcessEvidence(
            patterns=list(cfg.match),
            pids=list(cfg.pids),
            window_s=0.0,
            missing_pids=[p for p in cfg.pids if p not in info],
            own_excluded=len(own & set(chosen)),
        )
        watch = sorted(set(chosen) - own, key=lambda pid: (pid not in direct, pid))
        data.not_watched = max(0, len(watch) - MAX_WATCHED)
        targets = []
        for pid in watch[:MAX_WATCHED]:
            try:
                handle = self._ps.Process(pid)
            except Exception:  # gone since the listing (psutil.NoSuchProcess)
                continue
            name, cmd, _ = info[pid]
            row = WatchedProcess(pid, name, procs.display_cmdline(cmd), chosen[pid], None, None)
            cgroup = self._read_cgroup(pid)
            row.unit, row.container_id = procs.service_of(cgroup)
            row.age_s = _age_s(handle, self._now())
            targets.append(
                _Target(handle, row, cgroup=cgroup, throttling0=host_proc.read_cpu_throttling(cgroup))
            )
        return data, targets

    def _read_cgroup(self, pid: int) -> str:
        try:
            return (self._proc_root / str(pid) / "cgroup").read_text()
        except OSError:  # gone, or not Linux
            return ""


def _age_s(handle: Any, now_s: float) -> float | None:
    """Seconds since the process started (psutil's create_time is epoch seconds); None when unreadable."""
    try:
        return round(max(0.0, now_s - handle.create_time()), 1)
    except Exception:  # gone since the listing, or not readable
        return None


def _sample_clock(ctx: ProbeContext, start: float, found: float) -> list[float]:
    """Clock values to sample at: as many as ``ctx.sample_times`` (≥ 10), evenly from the end of
    the process search to the window's end (the search takes 30–300 ms), over at least half the window."""
    n = len(ctx.sample_times(min_samples=MIN_SAMPLES))
    end = max(start + ctx.window_s, found + ctx.window_s / 2)
    return [found + (end - found) * i / (n - 1) for i in range(n)]


def _read_all(targets: list[_Target], start: float, clock: Any) -> None:
    for target in targets:
        if target.row.exited:
            continue
        try:
            with target.handle.oneshot():
                times, mem = target.handle.cpu_times(), target.handle.memory_info()
        except Exception:  # NoSuchProcess / AccessDenied / ZombieProcess
            target.row.exited = True
            continue
        target.cpu_s.append(times.user + times.system)
        target.row.sample_t_s.append(round(clock() - start, 4))
        target.row.sample_rss_bytes.append(mem.rss)
        target.row.rss_bytes = mem.rss


def _read_limits(targets: list[_Target], ps: Any) -> None:
    """Open files against the soft limit, and threads, once at the window's end (listing
    /proc/PID/fd costs more than a sample)."""
    for target in targets:
        if target.row.exited:
            continue
        h = target.handle
        try:
            target.row.open_fds, target.row.threads = h.num_fds(), h.num_threads()
            target.row.fd_soft_limit = h.rlimit(ps.RLIMIT_NOFILE)[0]
        except Exception:  # AccessDenied (another user's process), gone, or no rlimit on this OS
            continue
        if target.row.fd_soft_limit is not None and target.row.fd_soft_limit < 0:  # RLIM_INFINITY
            target.row.fd_soft_limit = None
        before, after = (
            target.throttling0,
            host_proc.read_cpu_throttling(target.cgroup) if target.cgroup else None,
        )
        if before is not None and after is not None and after[0] > before[0] and after[1] >= before[1]:
            periods = after[0] - before[0]
            target.row.cpu_periods = periods
            target.row.cpu_throttled_share = round((after[1] - before[1]) / periods, 3)
            target.row.cpu_throttled_s = round(max(0, after[2] - before[2]) / 1e9, 3)


def _cpu_pct(target: _Target) -> float | None:
    ts = target.row.sample_t_s
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return None
    return round(max(0.0, (target.cpu_s[-1] - target.cpu_s[0]) / (ts[-1] - ts[0]) * 100.0), 1)


def _matched_ancestor(parents: dict[int, int], pid: int, direct: dict[int, str]) -> int:
    seen = set()
    while pid not in direct and pid not in seen:
        seen.add(pid)
        pid = parents.get(pid, 0)
    return pid
