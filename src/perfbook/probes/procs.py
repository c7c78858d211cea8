"""Process snapshots, CPU over a window, and pattern matching, shared by the host and process probes.

I/O through an injected ``psutil``-like module (``ps``), so tests can pass a fake. CPU of a
process over a window is the difference of two cumulative ``cpu_times`` snapshots divided by the
wall time between them — what ``top`` shows, and not an instant reading.

    matcher = Matcher(["uvicorn"], pids=[])
    matcher.match("python3", "uvicorn app:api --port 8001")   # -> "uvicorn"
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfbook.probes.base import ProbeContext, ProbeSkipped
from perfbook.redact import redact_text

CMDLINE_CHARS = 120  # a command line in evidence is cut to this many characters


@dataclass(frozen=True)
class ProcSnapshot:
    """One process at one instant."""

    pid: int  # process id
    ppid: int  # parent pid (0 when unknown)
    name: str  # the kernel's short name (comm, ≤ 15 characters)
    cpu_s: float  # user + system CPU seconds consumed since the process started
    rss_bytes: int  # resident set size
    create_time: float  # epoch seconds; tells a reused pid from the process seen earlier


def require_local(ctx: ProbeContext) -> None:
    """Raise ProbeSkipped when the targets are not on this machine (config ``[host] remote``)."""
    remote = ctx.config.host.remote
    if remote == "skip":
        raise ProbeSkipped('[host] remote = "skip"')
    if not ctx.local and remote != "force":
        raise ProbeSkipped('remote target: this probe describes this machine (set [host] remote = "force")')


def snapshot_all(ps: Any) -> dict[int, ProcSnapshot]:
    """Every process we may read, by pid (processes we may not read, or that vanish, are left out)."""
    out: dict[int, ProcSnapshot] = {}
    for proc in ps.process_iter(["ppid", "name", "cpu_times", "memory_info", "create_time"]):
        info = proc.info
        times, mem = info.get("cpu_times"), info.get("memory_info")
        if times is None or mem is None:  # AccessDenied / zombie: psutil fills None
            continue
        out[proc.pid] = ProcSnapshot(
            pid=proc.pid,
            ppid=info.get("ppid") or 0,
            name=info.get("name") or "?",
            cpu_s=times.user + times.system,
            rss_bytes=mem.rss,
            create_time=info.get("create_time") or 0.0,
        )
    return out


def cpu_pct_between(
    start: dict[int, ProcSnapshot], end: dict[int, ProcSnapshot], elapsed_s: float, start_epoch_s: float
) -> dict[int, float]:
    """CPU of each process over the interval, in % of one core (200 = two cores busy).

    A process born during the interval counts from zero; a pid reused by a new process (another
    ``create_time``) likewise. Processes gone by the end are left out.
    """
    if elapsed_s <= 0:
        return {}
    out: dict[int, float] = {}
    for pid, e in end.items():
        s = start.get(pid)
        if s is not None and s.create_time == e.create_time:
            used_s = e.cpu_s - s.cpu_s
        elif e.create_time >= start_epoch_s - 1.0:  # create_time has jiffy resolution
            used_s = e.cpu_s
        else:
            continue
        out[pid] = max(0.0, used_s / elapsed_s * 100.0)
    return out


def own_pids(parents: dict[int, int], own_pid: int, getsid: Callable[[int], int] = os.getsid) -> set[int]:
    """perfbook's own pid and its descendants in its own session (``parents``: pid -> ppid).

    A descendant that started its own session (``start_new_session``: the lab's services, a
    detached server) is a service perfbook launched to outlive it, not perfbook: it is judged.
    """
    try:
        own_sid = getsid(own_pid)
    except OSError:
        own_sid = None
    own = {own_pid}
    for pid in descendants(parents, {own_pid}):
        try:
            if getsid(pid) == own_sid:
                own.add(pid)
        except OSError:  # gone since the listing
            continue
    return own


def descendants(parents: dict[int, int], roots: set[int]) -> set[int]:
    """Every pid whose parent chain (``pid -> ppid``) reaches one of ``roots``, roots excluded.

    >>> sorted(descendants({2: 1, 3: 2, 4: 9}, {1}))
    [2, 3]
    """
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found and child not in roots:
                found.add(child)
                stack.append(child)
    return found


def read_cmdline(ps: Any, pid: int) -> str:
    """The process's full command line, space-joined ("" when unreadable): match on this."""
    try:
        return " ".join(ps.Process(pid).cmdline())
    except Exception:  # NoSuchProcess / AccessDenied / ZombieProcess: psutil.Error subclasses
        return ""


def display_cmdline(cmdline: str) -> str:
    """A command line fit for a report: secrets redacted, runs of spaces collapsed (process titles
    are often padded), cut to CMDLINE_CHARS."""
    return truncate(redact_text(" ".join(cmdline.split())))


def truncate(text: str, limit: int = CMDLINE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, ending in … when cut.

    >>> truncate("abcdef", 4)
    'abc…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


_CONTAINER = re.compile(r"(?:docker|libpod|crio|cri-containerd|containerd)[-/:]([0-9a-f]{12,64})")
_SERVICE = re.compile(r"/([^/]+\.service)(?=/|$)")


def service_of(cgroup_text: str) -> tuple[str | None, str | None]:
    """(systemd service, container id) that a process runs under, from its ``/proc/PID/cgroup``.

    The innermost service wins (a user manager's ``user@1000.service`` alone names no service).

    >>> service_of("0::/system.slice/api.service")
    ('api.service', None)
    >>> service_of("0::/system.slice/docker-4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e.scope")
    (None, '4f2a9c1e0b7d')
    """
    for line in cgroup_text.splitlines():
        if m := _CONTAINER.search(line.split(":", 2)[-1]):
            return None, m.group(1)[:12]
    services = [s for line in cgroup_text.splitlines() for s in _SERVICE.findall(line.split(":", 2)[-1])]
    services = [s for s in services if not s.startswith("user@")]
    return (services[-1] if services else None), None


class Matcher:
    """Configured process patterns (regular expressions searched in name and command line, as
    ``pgrep -f``; a pattern that is not a valid expression is matched literally) and pids."""

    def __init__(self, patterns: list[str], pids: list[int]) -> None:
        self.patterns = list(patterns)
        self.pids = set(pids)
        self._compiled = [(p, _compile(p)) for p in self.patterns if p]

    def match(self, name: str, cmdline: str, pid: int | None = None) -> str | None:
        """What matched: ``"pid"``, the pattern, or None."""
        if pid is not None and pid in self.pids:
            return "pid"
        for text, rx in self._compiled:
            if rx.search(name) or rx.search(cmdline):
                return text
        return None


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error:
        return re.compile(re.escape(pattern))
