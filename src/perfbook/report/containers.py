"""The ``perfbook probe containers`` table: the runbook's ``docker stats --format "table …"``, plus more.

One row per container (CPU of one core as ``docker stats`` shows it, and the judged share of its
limit or of the cores; memory of its own limit; I/O as rates over the window; restarts; log size),
then its top processes inside (from ``top``), and the engine's disk use as the caption.

    console.print(build_table(report.probes["containers"]))
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from perfbook.evidence import data_of
from perfbook.evidence.containers import ContainersEvidence, ContainerStats, EngineDisk
from perfbook.model import Evidence
from perfbook.units import format_bytes

COLUMNS = (
    "CONTAINER",
    "STATE",
    "CPU %",
    "OF LIMIT",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O /s",
    "BLOCK I/O /s",
    "PIDS",
    "RESTARTS",
    "LOG",
)
PROCESSES_SHOWN = 3


def build_table(ev: Evidence) -> Table | None:
    """The table for the containers evidence, or None when the probe gathered none."""
    data = data_of(ev, ContainersEvidence)
    if data is None:
        return None
    version = f" {data.engine_version}" if data.engine_version else ""
    table = Table(
        title=f"containers on {data.engine}{version} ({data.selection}, {data.window_s:g} s window)",
        caption=disk_caption(data.disk),
        title_justify="left",
        caption_justify="left",
    )
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("CONTAINER", "STATE") else "right", overflow="fold")
    for c in data.containers:
        table.add_row(*container_cells(c))
        for p in c.processes[:PROCESSES_SHOWN]:
            table.add_row(
                Text(f"  └ {p.pid} {p.command}"[:70], style="dim"),
                "",
                _pct(p.cpu_pct),
                "",
                format_bytes(p.rss_bytes),
                "",
                "",
                "",
                "",
                "",
                "",
                style="dim",
            )
    if not data.containers:
        table.add_row("(no container matched)", *[""] * (len(COLUMNS) - 1))
    return table


def container_cells(c: ContainerStats) -> list[str | Text]:
    """One container's row."""
    limit = format_bytes(c.memory_limit_bytes) if c.memory_limit_bytes else "no limit"
    restarts = f"{c.restart_count}" + (f" ({c.die_events} exits)" if c.die_events else "")
    return [
        Text(c.name, style="bold"),
        Text(c.state, style="green" if c.state == "running" else "yellow"),
        _pct(c.cpu_cores_pct),
        _of_limit(c),
        f"{format_bytes(c.memory_bytes)} / {limit}",
        _pct(c.memory_pct),
        f"{_rate(c.net_rx_bytes_per_s)} / {_rate(c.net_tx_bytes_per_s)}",
        f"{_rate(c.block_read_bytes_per_s)} / {_rate(c.block_write_bytes_per_s)}",
        "-" if c.pids is None else str(c.pids),
        Text(restarts, style="bold red" if c.die_events or c.state == "restarting" else ""),
        format_bytes(c.log_bytes),
    ]


def disk_caption(disk: EngineDisk | None) -> str:
    """``docker system df`` in one line; what a prune would free (never volumes)."""
    if disk is None:
        return "engine disk use: not available"
    return (
        f"images {disk.images} ({format_bytes(disk.images_bytes)}) · containers {disk.containers} "
        f"({format_bytes(disk.containers_bytes)}) · volumes {disk.volumes} ({format_bytes(disk.volumes_bytes)}) · "
        f"reclaimable {format_bytes(disk.reclaimable_bytes)}: {disk.stopped_containers} stopped containers, "
        f"{disk.dangling_images} dangling images"
    )


def _of_limit(c: ContainerStats) -> str:
    if c.cpu_pct is None:
        return "-"
    if c.cpu_basis == "limit":
        return f"{c.cpu_pct:.1f} % of {c.cpu_limit_cores:g} cpu"
    return f"{c.cpu_pct:.1f} % of {c.online_cpus or 1} cores"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def _rate(value: float | None) -> str:
    return "-" if value is None else format_bytes(value)
