"""The containers probe's evidence (:mod:`perfbook.evidence.containers`), built purely from the engine.

:func:`build_container` turns one container's inspect answer, its stats samples, its ``top``
rows and the engine's die / oom events into a :class:`ContainerStats`.
"""

from __future__ import annotations

from typing import Any

from perfbook.evidence.containers import ContainerProcess, ContainerStats
from perfbook.probes import containers_parse as parse
from perfbook.trend import linear_fit

TOP_PROCESSES = 5  # by CPU and by memory (their union)


def process_rows(rows: list[dict[str, Any]]) -> list[ContainerProcess]:
    """The top processes by CPU and by RSS (their union), busiest CPU first."""
    by_cpu = sorted(rows, key=lambda r: -(r["cpu_pct"] or 0))[:TOP_PROCESSES]
    by_rss = sorted(rows, key=lambda r: -(r["rss_bytes"] or 0))[:TOP_PROCESSES]
    keep = {id(r): r for r in by_cpu + by_rss}.values()
    ordered = sorted(keep, key=lambda r: (-(r["cpu_pct"] or 0), -(r["rss_bytes"] or 0)))
    return [ContainerProcess(r["pid"], r["cpu_pct"], r["rss_bytes"], r["command"]) for r in ordered]


def build_container(
    attrs: dict[str, Any],
    samples: list[tuple[float, dict[str, Any]]],
    processes: list[ContainerProcess] | None,
    events: list[dict[str, Any]],
    now_wall: float,
    window_start_wall: float,
    log_bytes: int | None = None,
) -> ContainerStats:
    """One container's evidence from its inspect answer, stats samples (clock, stats) and events."""
    state = attrs.get("State") or {}
    host = attrs.get("HostConfig") or {}
    cid = str(attrs.get("Id", ""))
    mine = [e for e in events if _actor(e).get("ID", e.get("id")) == cid]
    dies = sorted((e for e in mine if _action(e) in ("die", "died")), key=_event_time)
    status = str(state.get("Status") or "unknown").lower()
    started, finished = (
        parse.parse_engine_time(state.get("StartedAt")),
        parse.parse_engine_time(state.get("FinishedAt")),
    )
    running = status == "running"
    last_exit = _exit_code(dies[-1]) if dies else (None if running else state.get("ExitCode"))
    c = ContainerStats(
        name=str(attrs.get("Name", cid[:12])).lstrip("/"),
        id=cid[:12],
        image=(attrs.get("Config") or {}).get("Image") or attrs.get("ImageName"),
        state=status,
        restart_count=int(attrs.get("RestartCount") or 0),
        restart_policy=((host.get("RestartPolicy") or {}).get("Name") or None),
        exit_code=last_exit,
        oom_killed=bool(state.get("OOMKilled")) or any(_action(e) == "oom" for e in mine),
        started_at=state.get("StartedAt"),
        uptime_s=round(now_wall - started, 3) if running and started else None,
        finished_ago_s=round(now_wall - finished, 3) if not running and finished else None,
        die_events=len(dies),
        die_events_window=sum(1 for e in dies if _event_time(e) >= window_start_wall),
        oom_events=sum(1 for e in mine if _action(e) == "oom"),
        processes=list(processes or []),
        log_path=attrs.get("LogPath") or None,
        log_bytes=log_bytes,
        samples=len(samples),
    )
    if samples:
        _add_usage(c, host, samples)
    elif running:
        c.notes.append("no stats sample answered")
    return c


def _add_usage(c: ContainerStats, host: dict[str, Any], samples: list[tuple[float, dict[str, Any]]]) -> None:
    """CPU, memory and I/O figures from the first and last samples (memory from all of them)."""
    (t_first, first), (t_last, last) = samples[0], samples[-1]
    wall_s = t_last - t_first
    c.online_cpus = parse.online_cpus(last)
    c.cpu_limit_cores = parse.cpu_limit_cores(host)
    if len(samples) >= 2:
        c.cpu_cores_pct = _round(parse.cpu_cores_pct(first, last, wall_s))
        if c.cpu_cores_pct is None:
            c.notes.append("CPU counter went down between samples (restarted in the window)")
    if c.cpu_cores_pct is not None:
        cores = c.online_cpus or 1
        if c.cpu_limit_cores is not None:
            c.cpu_basis = "limit"
            c.cpu_pct = _round(c.cpu_cores_pct / min(c.cpu_limit_cores, cores))
        else:
            c.cpu_basis = "cores"
            c.cpu_pct = _round(c.cpu_cores_pct / cores)
    used = [(t, m) for t, s in samples if (m := parse.memory_used_bytes(s)) is not None]
    if used:
        c.memory_bytes, c.memory_max_bytes = used[-1][1], max(m for _, m in used)
    limit = int(host.get("Memory") or 0)
    c.memory_limit_bytes = limit if limit > 0 else None  # stats' own limit is the host's RAM when unset
    if c.memory_bytes is not None and c.memory_limit_bytes:
        c.memory_pct = _round(c.memory_bytes / c.memory_limit_bytes * 100)
    if len({t for t, _ in used}) >= 3:
        c.memory_slope_bytes_per_s = _round(linear_fit([t for t, _ in used], [m for _, m in used]).slope)
    c.pids = (last.get("pids_stats") or {}).get("current")
    _add_throttling(c, first, last)
    if wall_s > 0:
        (rx0, tx0), (rx1, tx1) = parse.network_bytes(first), parse.network_bytes(last)
        (br0, bw0), (br1, bw1) = parse.block_bytes(first), parse.block_bytes(last)
        c.net_rx_bytes_per_s, c.net_tx_bytes_per_s = _rate(rx0, rx1, wall_s), _rate(tx0, tx1, wall_s)
        c.block_read_bytes_per_s, c.block_write_bytes_per_s = _rate(br0, br1, wall_s), _rate(bw0, bw1, wall_s)


def _add_throttling(c: ContainerStats, first: dict[str, Any], last: dict[str, Any]) -> None:
    """Throttled CFS periods and time between the first and the last sample (a reset: none)."""
    a, b = parse.throttling(first), parse.throttling(last)
    if a is None or b is None or b[0] <= a[0] or b[1] < a[1] or b[2] < a[2]:
        return
    periods, throttled = b[0] - a[0], b[1] - a[1]
    c.cpu_periods, c.cpu_throttled_periods = periods, throttled
    c.cpu_throttled_s = round((b[2] - a[2]) / 1e9, 3)
    c.cpu_throttled_share = round(throttled / periods, 3)
    c.cpu_throttling_source = str(
        (last.get("cpu_stats") or {}).get("throttling_data", {}).get("source") or "engine"
    )


def _rate(before: int, after: int, wall_s: float) -> float | None:
    return round((after - before) / wall_s, 1) if after >= before else None  # a reset is no rate


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _actor(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("Actor") or {}


def _action(event: dict[str, Any]) -> str:
    return str(event.get("Action") or event.get("status") or "")


def _event_time(event: dict[str, Any]) -> float:
    nano = event.get("timeNano")
    return nano / 1e9 if nano else float(event.get("time") or 0)


def _exit_code(event: dict[str, Any]) -> int | None:
    try:
        return int((_actor(event).get("Attributes") or {}).get("exitCode"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
