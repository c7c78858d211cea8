"""Container rules: CPU and memory against each container's own limit, restart loops, prune room.

Pure: reads the ``containers`` evidence (``perfbook.evidence.containers``) and the thresholds.

- ``container.cpu_high``: ``cpu_pct`` (of the CPU limit when one is set, else of one core × the
  cores) at or over ``cpu_pct``.
- ``container.memory_high``: memory of the container's own limit (never the host's total) at or
  over ``memory_pct``; critical at 95 %. A container without a limit is the host rules' business.
- ``container.restarting``: a loop judged from the engine's state, die events over the lookback,
  and RestartCount with a recent StartedAt, so a loop in back-off counts even with no restart
  inside a 2 s window.
- ``container.reclaimable`` (info): what ``docker container prune`` + ``docker image prune``
  would free; perfbook's prune never touches volumes (a stopped database's data lives there).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from typing import Any

from perfbook.codes import action, finding
from perfbook.config import Config, Thresholds
from perfbook.evidence import usable
from perfbook.evidence.containers import ContainersEvidence, ContainerStats, EngineDisk
from perfbook.model import Action, Evidence, Finding, Level
from perfbook.units import format_bytes

CRITICAL_MEMORY_PCT = 95.0  # container.memory_high is critical at 95 % of the limit
RESTART_LOOP_EXITS = 3  # exits (or restarts) that make a loop
RECENT_START_S = 120.0  # up for less than this after several restarts: still looping
RECLAIMABLE_MIN_BYTES = 1024**3  # below 1 GiB a prune is not worth a finding
MIB, GIB = 1024**2, 1024**3


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings from the containers probe's evidence (none when it did not run)."""
    data = usable(evidence.get("containers"), ContainersEvidence)
    if data is None:
        return []
    found: list[Finding] = []
    for c in data.containers:
        found += cpu_findings(c, cfg.thresholds)
        found += throttling_findings(c, cfg.thresholds)
        found += memory_findings(c, cfg.thresholds)
        found += restart_findings(c, data.restart_lookback_s)
    if data.disk is not None:
        found += reclaimable_findings(data.disk)
    return found


def cpu_findings(c: ContainerStats, th: Thresholds) -> list[Finding]:
    """``container.cpu_high`` when the window's CPU share is at or over ``cpu_pct``."""
    if c.cpu_pct is None or c.cpu_pct < th.cpu_pct:
        return []
    cores = c.online_cpus or 1
    if c.cpu_basis == "limit" and c.cpu_limit_cores:
        of = f"its {c.cpu_limit_cores:g}-core CPU limit"
        unit = f"% of the {c.cpu_limit_cores:g}-core limit"
    else:
        of = f"the host's {cores} cores (no CPU limit)"
        unit = f"% of {cores} cores"
    actions = [
        Action(
            id="container.top",
            summary=f"see which process inside {c.name} burns the CPU",
            manual=f"docker top {_q(c.name)} -eo pid,pcpu,rss,args",
        )
    ]
    if c.cpu_limit_cores:
        cpus = min(float(cores), c.cpu_limit_cores * 2)
        if cpus > c.cpu_limit_cores:
            actions.insert(
                0,
                action(
                    "container.update_limits",
                    f"raise {c.name}'s CPU limit to {cpus:g} cores",
                    f"docker update --cpus {cpus:g} {_q(c.name)}",
                    container=c.name,
                    cpus=cpus,
                ),
            )
    return [
        finding(
            "container.cpu_high",
            c.name,
            f"{c.name} uses {c.cpu_pct:.0f} % of {of}",
            value=c.cpu_pct,
            threshold=th.cpu_pct,
            unit=unit,
            actions=actions,
            evidence={
                "cpu_cores_pct": c.cpu_cores_pct,
                "cpu_basis": c.cpu_basis,
                "cpu_limit_cores": c.cpu_limit_cores,
                "online_cpus": c.online_cpus,
                "samples": c.samples,
                "processes": _processes(c, "cpu_pct"),
            },
        )
    ]


MIN_PERIODS = 5  # a share of fewer CFS periods (100 ms each by default) is noise


def throttling_findings(c: ContainerStats, th: Thresholds) -> list[Finding]:
    """``container.cpu_throttled`` when its quota ran out in ``throttled_share`` of the window's periods:
    its tasks wait for the next period however idle the host is."""
    share = c.cpu_throttled_share
    if share is None or (c.cpu_periods or 0) < MIN_PERIODS or share < th.throttled_share:
        return []
    cores = float(c.online_cpus or 1)
    actions = [
        Action(
            id="container.cpu_stat",
            summary=f"watch {c.name}'s throttling counters",
            manual=f"docker stats --no-stream {_q(c.name)}; "
            f"cat /sys/fs/cgroup/cpu*/*/*{c.id}*/cpu.stat 2>/dev/null",
        )
    ]
    if c.cpu_limit_cores:
        # the quota that would have avoided it: what it used when it could, with room (× 2), at most the cores
        cpus = round(min(cores, max(c.cpu_limit_cores * 2, (c.cpu_cores_pct or 0) / 100 * 2)), 2)
        if cpus > c.cpu_limit_cores:
            actions.insert(
                0,
                action(
                    "container.update_limits",
                    f"raise {c.name}'s CPU limit to {cpus:g} cores",
                    f"docker update --cpus {cpus:g} {_q(c.name)}",
                    container=c.name,
                    cpus=cpus,
                ),
            )
    limit = f" by its {c.cpu_limit_cores:g}-core limit" if c.cpu_limit_cores else " by its CPU quota"
    return [
        finding(
            "container.cpu_throttled",
            c.name,
            f"{c.name} throttled{limit} in {share * 100:.0f} % of the window's periods "
            f"({c.cpu_throttled_s or 0:.1f} s waiting)",
            value=share,
            threshold=th.throttled_share,
            unit="throttled / elapsed CFS periods, window",
            actions=actions,
            evidence={
                "id": c.id,
                "periods": c.cpu_periods,
                "throttled_periods": c.cpu_throttled_periods,
                "throttled_s": c.cpu_throttled_s,
                "cpu_limit_cores": c.cpu_limit_cores,
                "cpu_cores_pct": c.cpu_cores_pct,
                "source": c.cpu_throttling_source,
            },
        )
    ]


def memory_findings(c: ContainerStats, th: Thresholds) -> list[Finding]:
    """``container.memory_high`` when usage is at or over ``memory_pct`` of the container's limit."""
    if c.memory_pct is None or c.memory_limit_bytes is None or c.memory_pct < th.memory_pct:
        return []
    level = Level.CRITICAL if c.memory_pct >= CRITICAL_MEMORY_PCT else None
    return [
        finding(
            "container.memory_high",
            c.name,
            f"{c.name} uses {c.memory_pct:.0f} % of its memory limit "
            f"({format_bytes(c.memory_bytes)} of {format_bytes(c.memory_limit_bytes)})",
            value=c.memory_pct,
            threshold=th.memory_pct,
            unit="% of its memory limit",
            level=level,
            actions=[
                _raise_memory(c, 1.5),
                action(
                    "container.restart",
                    f"restart {c.name} to release its memory (a leak will come back)",
                    f"docker restart {_q(c.name)}",
                    container=c.name,
                ),
            ],
            evidence={
                "memory_bytes": c.memory_bytes,
                "memory_limit_bytes": c.memory_limit_bytes,
                "memory_max_bytes": c.memory_max_bytes,
                "memory_slope_bytes_per_s": c.memory_slope_bytes_per_s,
                "oom_killed": c.oom_killed,
                "processes": _processes(c, "rss_bytes"),
            },
        )
    ]


def restart_loop_reason(c: ContainerStats, lookback_s: float) -> str | None:
    """Why ``c`` is in a restart loop, or None. Needs no restart inside the window.

    >>> c = ContainerStats("api", "0123456789ab", None, "running", restart_count=7, restart_policy="always",
    ...                    exit_code=1, oom_killed=False, started_at=None, uptime_s=4.0, finished_ago_s=None)
    >>> restart_loop_reason(c, 600)
    '7 restarts, up only 4 s'
    """
    minutes = f"{lookback_s / 60:g} min"
    if c.state == "restarting":
        return f"the engine shows it restarting ({c.restart_count} restarts)"
    if c.die_events >= RESTART_LOOP_EXITS:
        return f"{c.die_events} exits in the last {minutes}"
    if c.restart_count < RESTART_LOOP_EXITS:
        return None
    if c.uptime_s is not None and c.uptime_s < RECENT_START_S:
        return f"{c.restart_count} restarts, up only {c.uptime_s:.0f} s"
    if (
        c.state in ("exited", "dead")
        and c.exit_code not in (0, None)
        and c.finished_ago_s is not None
        and c.finished_ago_s < lookback_s
    ):
        return f"gave up after {c.restart_count} restarts (exit code {c.exit_code})"
    return None


def restart_findings(c: ContainerStats, lookback_s: float) -> list[Finding]:
    """``container.restarting`` (critical) for a container in a restart loop."""
    why = restart_loop_reason(c, lookback_s)
    if why is None:
        return []
    code = f", last exit code {c.exit_code}" if c.exit_code is not None else ""
    oom = ", OOM-killed" if c.oom_killed else ""
    actions = [
        Action(
            id="container.logs",
            summary=f"read why {c.name} exits",
            manual=f"docker logs --tail 100 {_q(c.name)}",
        )
    ]
    if c.oom_killed:
        actions.insert(0, _raise_memory(c, 2.0))
    by_events = c.die_events >= RESTART_LOOP_EXITS
    return [
        finding(
            "container.restarting",
            c.name,
            f"{c.name} is in a restart loop: {why}{code}{oom}",
            value=float(c.die_events if by_events else c.restart_count),
            threshold=float(RESTART_LOOP_EXITS),
            unit=f"exits in {lookback_s / 60:g} min" if by_events else "restarts",
            actions=actions,
            evidence={
                "state": c.state,
                "restart_count": c.restart_count,
                "restart_policy": c.restart_policy,
                "die_events": c.die_events,
                "die_events_window": c.die_events_window,
                "uptime_s": c.uptime_s,
                "finished_ago_s": c.finished_ago_s,
                "exit_code": c.exit_code,
                "oom_killed": c.oom_killed,
                "log_path": c.log_path,
            },
        )
    ]


def reclaimable_findings(disk: EngineDisk) -> list[Finding]:
    """``container.reclaimable`` (info) when a prune would free at least 1 GiB."""
    if disk.reclaimable_bytes < RECLAIMABLE_MIN_BYTES:
        return []
    return [
        finding(
            "container.reclaimable",
            "engine",
            f"{format_bytes(disk.reclaimable_bytes)} reclaimable: {disk.stopped_containers} stopped containers, "
            f"{disk.dangling_images} dangling images",
            value=float(disk.reclaimable_bytes),
            threshold=float(RECLAIMABLE_MIN_BYTES),
            unit="bytes",
            actions=[
                action(
                    "engine.prune",
                    "remove stopped containers and dangling images (never volumes)",
                    "docker container prune -f && docker image prune -f",
                )
            ],
            evidence={
                "stopped_containers_bytes": disk.stopped_containers_bytes,
                "dangling_images_bytes": disk.dangling_images_bytes,
                "volumes_bytes": disk.volumes_bytes,
            },
        )
    ]


def docker_size(n_bytes: float) -> str:
    """A ``docker update --memory`` size: whole GiB as ``1g``, else MiB rounded up.

    >>> docker_size(48 * 1024**2), docker_size(2 * 1024**3), docker_size(1.5 * 1024**3)
    ('48m', '2g', '1536m')
    """
    if n_bytes % GIB == 0:
        return f"{int(n_bytes // GIB)}g"
    return f"{math.ceil(n_bytes / MIB)}m"


def _raise_memory(c: ContainerStats, factor: float) -> Action:
    """``container.update_limits`` with a memory limit ``factor`` × the current one (swap kept at 2×)."""
    if not c.memory_limit_bytes:
        return Action(
            id="container.stats",
            summary=f"see what {c.name} uses before setting a memory limit",
            manual=f"docker stats --no-stream {_q(c.name)}",
        )
    new = docker_size(c.memory_limit_bytes * factor)
    swap = docker_size(c.memory_limit_bytes * factor * 2)
    return action(
        "container.update_limits",
        f"raise {c.name}'s memory limit to {new}",
        f"docker update --memory {new} --memory-swap {swap} {_q(c.name)}",
        container=c.name,
        memory=new,
    )


def _processes(c: ContainerStats, key: str) -> list[dict[str, object]]:
    top = sorted(c.processes, key=lambda p: -(getattr(p, key) or 0))[:3]
    return [
        {"pid": p.pid, "cpu_pct": p.cpu_pct, "rss_bytes": p.rss_bytes, "command": p.command[:120]}
        for p in top
    ]


def _q(name: str) -> str:
    return shlex.quote(name)
