"""Pure readers of Docker Engine API answers: stats pairs, ``top`` tables, ``df``, inspect times.

Docker and Podman (serving the same API) differ in the details, and these functions absorb them:
Podman's one-shot stats have ``precpu`` = 0 (so CPU comes from two samples), Podman's ``top``
takes psgo descriptors and may answer with one unsplit title when it ran ``ps`` inside, and
Podman's ``df`` has no ``LayersSize``. No I/O here: the probe feeds in what the engine returned.

    >>> round(cpu_cores_pct({"cpu_stats": {"cpu_usage": {"total_usage": 0}}},
    ...                     {"cpu_stats": {"cpu_usage": {"total_usage": 500_000_000}}}, 1.0), 1)
    50.0
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_FRACTION = re.compile(r"\.(\d+)")
_PID_TITLES = ("PID",)
_CPU_TITLES = ("%CPU", "CPU", "PCPU", "C")
_RSS_TITLES = ("RSS", "RSZ")
_CMD_TITLES = ("COMMAND", "CMD", "ARGS")


def parse_engine_time(text: str | None) -> float | None:
    """Epoch seconds from the engine's RFC 3339 time (nanoseconds allowed); None for the zero time.

    >>> parse_engine_time("1970-01-01T00:01:40.123456789Z")
    100.123456
    >>> parse_engine_time("0001-01-01T00:00:00Z") is None
    True
    """
    if not text or text.startswith("0001-"):
        return None
    # Python keeps microseconds: cut the engine's nanoseconds to 6 digits.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text.replace("Z", "+00:00"), count=1)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def cpu_total_ns(stats: dict[str, Any]) -> int | None:
    """The container's cumulative CPU time (ns) in one stats answer."""
    value = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    return int(value) if value is not None else None


def cpu_cores_pct(first: dict[str, Any], last: dict[str, Any], wall_s: float) -> float | None:
    """CPU between two samples in % of ONE core (``docker stats`` style: 2 busy cores = 200 %).

    None when a counter is missing or went down (the container restarted between the samples).
    """
    a, b = cpu_total_ns(first), cpu_total_ns(last)
    if a is None or b is None or b < a or wall_s <= 0:
        return None
    return (b - a) / (wall_s * 1e9) * 100.0


def online_cpus(stats: dict[str, Any]) -> int | None:
    """The CPUs the engine says the container can see."""
    cpu = stats.get("cpu_stats") or {}
    n = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    return int(n) or None


def cpu_limit_cores(host_config: dict[str, Any]) -> float | None:
    """The container's CPU limit in cores (``--cpus`` / NanoCpus, else CpuQuota / CpuPeriod)."""
    nano = host_config.get("NanoCpus") or 0
    if nano > 0:
        return nano / 1e9
    quota, period = host_config.get("CpuQuota") or 0, host_config.get("CpuPeriod") or 100_000
    return quota / period if quota > 0 else None


def memory_used_bytes(stats: dict[str, Any]) -> int | None:
    """Memory in use as ``docker stats`` shows it: usage less the inactive page cache, if reported.

    (cgroup v2 names it ``inactive_file``, v1 ``total_inactive_file``; Podman reports neither.)
    """
    mem = stats.get("memory_stats") or {}
    usage = mem.get("usage")
    if usage is None:
        return None
    detail = mem.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0
    return int(usage - cache) if cache < usage else int(usage)


def network_bytes(stats: dict[str, Any]) -> tuple[int, int]:
    """(received, sent) bytes summed over the container's interfaces."""
    nets = (stats.get("networks") or {}).values()
    return sum(n.get("rx_bytes", 0) for n in nets), sum(n.get("tx_bytes", 0) for n in nets)


def block_bytes(stats: dict[str, Any]) -> tuple[int, int]:
    """(read, written) bytes from ``blkio_stats.io_service_bytes_recursive``."""
    read = written = 0
    for row in (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(row.get("op", "")).lower()
        if op == "read":
            read += int(row.get("value", 0))
        elif op == "write":
            written += int(row.get("value", 0))
    return read, written


def top_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """``top`` output as ``{"pid", "cpu_pct", "rss_bytes", "command"}`` rows.

    Podman that fell back to running ``ps`` inside the container returns one space-joined title
    and one string per process; those are split on whitespace, the command keeping its spaces.

    >>> top_rows({"Titles": ["PID   USER     COMMAND"], "Processes": [["1 0        sh -c sleep 9"]]})
    [{'pid': '1', 'cpu_pct': None, 'rss_bytes': None, 'command': 'sh -c sleep 9'}]
    """
    titles = [t.strip().upper() for t in answer.get("Titles") or []]
    processes = answer.get("Processes") or []
    if len(titles) == 1 and " " in titles[0]:
        titles = titles[0].split()
        processes = [row[0].split(None, len(titles) - 1) for row in processes if row]
    col = {
        key: _column(titles, names)
        for key, names in (
            ("pid", _PID_TITLES),
            ("cpu", _CPU_TITLES),
            ("rss", _RSS_TITLES),
            ("cmd", _CMD_TITLES),
        )
    }
    rows = []
    for proc in processes:
        cpu, rss = _cell(proc, col["cpu"]), _cell(proc, col["rss"])
        rows.append(
            {
                "pid": _cell(proc, col["pid"]),
                "cpu_pct": _number(cpu),
                "rss_bytes": int(rss_kib * 1024)
                if (rss_kib := _number(rss)) is not None
                else None,  # ps: KiB
                "command": _cell(proc, col["cmd"]) or " ".join(proc),
            }
        )
    return rows


def _column(titles: list[str], names: tuple[str, ...]) -> int | None:
    return next((i for i, t in enumerate(titles) if t in names), None)


def _cell(row: list[str], index: int | None) -> str | None:
    return row[index] if index is not None and index < len(row) else None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def is_dangling(image: dict[str, Any]) -> bool:
    """An image with no tag (what ``docker image prune`` removes)."""
    tags = [t for t in image.get("RepoTags") or [] if t and t != "<none>:<none>"]
    return not tags


def disk_usage(df: dict[str, Any]) -> dict[str, int]:
    """Engine-wide disk use from ``/system/df``, and what a prune would free (never volumes).

    Stopped containers' writable layers plus dangling images no container uses.
    """
    images = df.get("Images") or []
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    dangling = [i for i in images if is_dangling(i) and not i.get("Containers")]
    stopped = [
        c for c in containers if str(c.get("State", "")).lower() not in ("running", "paused", "restarting")
    ]
    images_bytes = df.get("LayersSize") or sum(int(i.get("Size") or 0) for i in images)
    out = {
        "images": len(images),
        "images_bytes": int(images_bytes),
        "containers": len(containers),
        "containers_bytes": sum(int(c.get("SizeRw") or 0) for c in containers),
        "volumes": len(volumes),
        "volumes_bytes": sum(max(0, int((v.get("UsageData") or {}).get("Size") or 0)) for v in volumes),
        "dangling_images": len(dangling),
        "dangling_images_bytes": sum(int(i.get("Size") or 0) for i in dangling),
        "stopped_containers": len(stopped),
        "stopped_containers_bytes": sum(int(c.get("SizeRw") or 0) for c in stopped),
    }
    out["reclaimable_bytes"] = out["dangling_images_bytes"] + out["stopped_containers_bytes"]
    return out


def throttling(stats: dict[str, Any]) -> tuple[int, int, int] | None:
    """(periods, throttled periods, throttled ns) of the stats' ``throttling_data``; None when absent.

    >>> throttling({"cpu_stats": {"throttling_data": {"periods": 10, "throttled_periods": 8, "throttled_time": 5}}})
    (10, 8, 5)
    """
    data = (stats.get("cpu_stats") or {}).get("throttling_data")
    if not isinstance(data, dict) or "periods" not in data:
        return None
    return (
        int(data.get("periods") or 0),
        int(data.get("throttled_periods") or 0),
        int(data.get("throttled_time") or 0),
    )


def parse_cpu_stat(text: str) -> tuple[int, int, int] | None:
    """(periods, throttled periods, throttled ns) of a cgroup's cpu.stat (v1: ns; v2: µs).

    >>> parse_cpu_stat("nr_periods 40\\nnr_throttled 32\\nthrottled_time 1500000000\\n")
    (40, 32, 1500000000)
    >>> parse_cpu_stat("usage_usec 1\\nnr_periods 4\\nnr_throttled 2\\nthrottled_usec 30\\n")
    (4, 2, 30000)
    """
    values = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)
    if "nr_periods" not in values:
        return None
    ns = (
        int(values["throttled_time"])
        if "throttled_time" in values
        else int(values.get("throttled_usec", 0)) * 1000
    )
    return int(values["nr_periods"]), int(values.get("nr_throttled", 0)), ns
