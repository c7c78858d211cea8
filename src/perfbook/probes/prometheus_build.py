"""From Prometheus HTTP API answers to the fleet's window figures. Pure (no I/O).

The probe asks ``increase(NAME{selector}[R])`` for every request histogram bucket / count and
requests counter the selector has; each answer is the window delta of a series, which is what the
metrics probe computes from two scrapes. Put into a :class:`~perfbook.probes.metrics_parse.Page`
whose start is empty, :func:`~perfbook.probes.metrics_build.window_figures` does the rest with the
metrics probe's own semantics (the primary histogram, a finer family when the p95 is over the top
bound or in a coarse bucket, ranges, 5xx share): summed over every replica for the fleet, and per
``instance`` label for each replica.

    >>> vector({"status": "success", "data": {"resultType": "vector",
    ...         "result": [{"metric": {"instance": "a:1"}, "value": [1.0, "2.5"]}]}})
    [({'instance': 'a:1'}, 2.5)]
    >>> matchers('job="api"', '__name__=~"x|y"')
    '{job="api",__name__=~"x|y"}'
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

from perfbook.evidence.prometheus import InstanceContainer, InstanceHost, InstanceWindow
from perfbook.probes.metrics_build import Window, window_figures
from perfbook.probes.metrics_parse import Page, is_request_duration

Sample = tuple[dict[str, str], float]
REAL_FS = 'fstype!~"tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|autofs|fuse.*"'
_NAME_OK = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class QueryError(ValueError):
    """Prometheus answered, but not with a usable vector (its error type and message)."""


def vector(doc: Any) -> list[Sample]:
    """The ``(labels, value)`` samples of an instant-query answer; QueryError otherwise."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        err = doc.get("error") if isinstance(doc, dict) else None
        kind = doc.get("errorType") if isinstance(doc, dict) else None
        raise QueryError(f"{kind or 'error'}: {err or 'not a Prometheus API answer'}")
    data = doc.get("data") or {}
    if data.get("resultType") != "vector":
        raise QueryError(f"expected a vector, got {data.get('resultType')!r}")
    out = []
    for item in data.get("result") or []:
        try:
            value = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if math.isnan(value):
            continue
        out.append(({str(k): str(v) for k, v in (item.get("metric") or {}).items()}, value))
    return out


def names(doc: Any) -> list[str]:
    """The metric names of a ``/api/v1/label/__name__/values`` answer."""
    if not isinstance(doc, dict) or doc.get("status") != "success" or not isinstance(doc.get("data"), list):
        raise QueryError(
            f"label values: {doc.get('error') if isinstance(doc, dict) else 'not an API answer'}"
        )
    return sorted(str(n) for n in doc["data"] if isinstance(n, str) and _NAME_OK.fullmatch(n))


def matchers(selector: str, *extra: str) -> str:
    """``{selector,extra…}`` (the selector's own braces, if any, dropped)."""
    parts = [selector.strip().strip("{}").strip(), *extra]
    return "{" + ",".join(p for p in parts if p) + "}"


def request_series(all_names: list[str]) -> list[str]:
    """The names the figures need: request-duration ``_bucket`` / ``_count``, HTTP ``*requests_total``.

    >>> request_series(["http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
    ...                 "http_requests_total", "process_cpu_seconds_total"])
    ['http_request_duration_seconds_bucket', 'http_requests_total']
    """
    out = []
    for name in all_names:
        if name.endswith("requests_total") and "http" in name:
            out.append(name)
        elif name.endswith("_bucket") and is_request_duration(name[: -len("_bucket")]):
            out.append(name)
        elif name.endswith("_count") and is_request_duration(name[: -len("_count")]):
            out.append(name)
    # a _count is only needed for a histogram whose buckets are there too (window_figures reads both)
    bases = {n[: -len("_bucket")] for n in out if n.endswith("_bucket")}
    return [n for n in out if not n.endswith("_count") or n[: -len("_count")] in bases]


def increase_query(name: str, selector: str, range_s: float) -> str:
    """``increase(name{selector}[60s])``."""
    return f"increase({name}{matchers(selector)}[{_seconds(range_s)}])"


def cpu_query(selector: str, range_s: float) -> str:
    """Cores each instance's process used (prometheus_client's process collector)."""
    return f"sum by (instance) (rate(process_cpu_seconds_total{matchers(selector)}[{_seconds(range_s)}]))"


def host_queries(node_selector: str, range_s: float) -> dict[str, str]:
    """node_exporter's CPU, memory and disk use per instance, as percentages."""
    sel, r = node_selector, _seconds(range_s)
    idle = matchers(sel, 'mode="idle"')
    return {
        "cpu": f"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{idle}[{r}])))",
        "memory": f"100 * (1 - node_memory_MemAvailable_bytes{matchers(sel)} "
        f"/ node_memory_MemTotal_bytes{matchers(sel)})",
        "disk": f"100 * (1 - node_filesystem_avail_bytes{matchers(sel, REAL_FS)} / "
        f"node_filesystem_size_bytes{matchers(sel, REAL_FS)})",
    }


def container_queries(container_selector: str, range_s: float) -> dict[str, str]:
    """cAdvisor's CPU and memory per container, and the limits they are judged against."""
    sel, r = matchers(container_selector), _seconds(range_s)
    return {
        "cpu": f"sum by (instance, name) (rate(container_cpu_usage_seconds_total{sel}[{r}]))",
        "cpu_limit": f"sum by (instance, name) (container_spec_cpu_quota{sel} / container_spec_cpu_period{sel}) > 0",
        "memory": f"sum by (instance, name) (container_memory_working_set_bytes{sel})",
        "memory_limit": f"sum by (instance, name) (container_spec_memory_limit_bytes{sel}) > 0",
    }


def containers(
    cpu: list[Sample], cpu_limit: list[Sample], memory: list[Sample], memory_limit: list[Sample]
) -> list[InstanceContainer]:
    """One row per (instance, name), shares of the limits where a limit is set."""
    rows: dict[tuple[str, str], InstanceContainer] = {}

    def row(labels: dict[str, str]) -> InstanceContainer:
        key = (labels.get("instance", ""), labels.get("name", ""))
        return rows.setdefault(key, InstanceContainer(instance=key[0] or "(no instance label)", name=key[1]))

    for labels, value in cpu:
        row(labels).cpu_cores = _round(value)
    for labels, value in cpu_limit:
        row(labels).cpu_limit_cores = _round(value)
    for labels, value in memory:
        row(labels).memory_bytes = value
    for labels, value in memory_limit:
        row(labels).memory_limit_bytes = value
    for c in rows.values():
        if c.cpu_cores is not None and c.cpu_limit_cores:
            c.cpu_pct = _round(100 * c.cpu_cores / c.cpu_limit_cores, 1)
        if c.memory_bytes is not None and c.memory_limit_bytes:
            c.memory_pct = _round(100 * c.memory_bytes / c.memory_limit_bytes, 1)
    return sorted(rows.values(), key=lambda c: (c.instance, c.name))


def fleet_window(by_name: dict[str, list[Sample]], range_s: float, excluded: set[str]) -> Window:
    """The figures summed over every replica (the series of one handler add up in window_figures)."""
    return window_figures(Page(), _page(by_name, lambda labels: True), range_s, excluded)


def instance_windows(
    by_name: dict[str, list[Sample]], range_s: float, excluded: set[str], cpu: list[Sample]
) -> list[InstanceWindow]:
    """The same figures per ``instance`` label, sorted by instance."""
    jobs: dict[str, str | None] = {}
    for samples in by_name.values():
        for labels, _ in samples:
            jobs.setdefault(labels.get("instance", ""), labels.get("job"))
    cores = {labels.get("instance", ""): value for labels, value in cpu}
    out = []
    for instance in sorted(jobs):
        page = _page(by_name, lambda labels, i=instance: labels.get("instance", "") == i)
        window = window_figures(Page(), page, range_s, excluded)
        out.append(
            InstanceWindow(
                instance=instance or "(no instance label)",
                job=jobs[instance],
                handlers=window.handlers,
                total=window.total,
                cpu_cores=_round(cores.get(instance)),
            )
        )
    return out


def hosts(cpu: list[Sample], memory: list[Sample], disk: list[Sample]) -> list[InstanceHost]:
    """One row per node_exporter instance; the fullest filesystem is its disk figure."""
    rows: dict[str, InstanceHost] = defaultdict(lambda: InstanceHost(instance=""))
    for labels, value in cpu:
        rows[labels.get("instance", "")].cpu_pct = _round(value, 1)
    for labels, value in memory:
        rows[labels.get("instance", "")].memory_pct = _round(value, 1)
    for labels, value in disk:
        row = rows[labels.get("instance", "")]
        if row.disk_pct is None or value > row.disk_pct:
            row.disk_pct, row.disk_mount = _round(value, 1), labels.get("mountpoint")
    for instance, row in rows.items():
        row.instance = instance or "(no instance label)"
    return sorted(rows.values(), key=lambda h: h.instance)


def _page(by_name: dict[str, list[Sample]], keep: Any) -> Page:
    page = Page()
    for name, samples in by_name.items():
        for labels, value in samples:
            if keep(labels):
                page.values[(name, tuple(sorted(labels.items())))] = value
    return page


def _seconds(value: float) -> str:
    return f"{max(1, int(round(value)))}s"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
