"""Each figure and finding code as PromQL over the standard exporters' metric names. Pure.

The app's own metrics (``http_request_duration_seconds`` / ``http_requests_total``, names set in
``[alerts]``) in any of the label spellings common libraries use (``handler`` / ``path`` /
``route`` …, ``status`` / ``code`` / ``status_code``): grouping ``by`` a label a series lacks
is harmless, so one expression serves them all. Host figures come from node_exporter, containers
from cAdvisor, PostgreSQL from postgres_exporter, Redis from redis_exporter. Every expression is a
ratio or a rate over ``prometheus_range``, never a lifetime counter or an absolute error rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perfbook.probes.metrics_parse import HANDLER_LABELS, STATUS_LABELS

if TYPE_CHECKING:
    from perfbook.config import Config

CONTAINER_BY = "instance, name, container, pod, namespace"  # cAdvisor: docker name, or the kubelet's labels
FS_TYPES = "tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|proc|sysfs|fuse.lxcfs"
RESTART_WINDOW = "10m"  # as the containers probe looks back 10 minutes for exits
RESTART_LOOP = 3  # as the container rules count a loop

# A subject template: literals and "or" groups of labels (the first label a series has).
Subject = tuple[str | tuple[str, ...], ...]


@dataclass(frozen=True)
class Form:
    """One figure or finding in PromQL.

    ``value``: the figure's vector (a KPI rule adds ``op threshold``), or for a finding the whole
    condition with ``threshold`` built in. ``guard``: what makes a figure firm enough to judge
    (requests or lookups in the range), joined with ``and``. ``subject``: which labels name it.
    """

    value: str
    subject: Subject
    guard: str | None = None
    threshold: float | None = None
    complete: bool = False


@dataclass(frozen=True)
class Names:
    """What the exported expressions read from the config."""

    selector: str
    range: str
    histogram: str
    counter: str
    containers: str
    min_requests: int
    skip_paths: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: Config) -> Names:
        a = cfg.alerts
        return cls(
            a.prometheus_selector.strip().strip(","),
            a.prometheus_range,
            a.duration_histogram,
            a.requests_counter,
            a.container_selector.strip().strip(","),
            cfg.http.min_window_requests,
            tuple(p for p in (cfg.http.metrics_path, cfg.http.health_path) if p),
        )


def sel(*parts: str) -> str:
    """``{a, b}`` from the non-empty matcher lists (``""`` when there are none).

    >>> sel('job="api"', "", 'le="1"')
    '{job="api", le="1"}'
    """
    kept = [p for p in parts if p]
    return "{" + ", ".join(kept) + "}" if kept else ""


def _app_selector(n: Names) -> str:
    """The app's selector, leaving out /metrics and /health under every handler-label spelling."""
    if not n.skip_paths:
        return n.selector
    regex = "|".join(re.escape(p) for p in n.skip_paths).replace("\\", "\\\\")
    return ", ".join([p for p in (n.selector,) if p] + [f'{label}!~"{regex}"' for label in HANDLER_LABELS])


def figure_form(figure: str, n: Names) -> Form:
    """The PromQL of one KPI figure (see :data:`perfbook.alerts.when.FIGURES`)."""
    r, app, handlers = n.range, _app_selector(n), ", ".join(HANDLER_LABELS)
    if figure == "p95_s":
        buckets = f"rate({n.histogram}_bucket{sel(app)}[{r}])"
        requests = f"increase({n.histogram}_count{sel(app)}[{r}])"
        return Form(
            f"histogram_quantile(0.95, sum by (job, le, {handlers}) ({buckets}))",
            (HANDLER_LABELS,),
            guard=f"sum by (job, {handlers}) ({requests}) >= {n.min_requests}",
        )
    if figure == "error_rate":
        five_xx = [f'{label}=~"5.."' for label in STATUS_LABELS]  # "5xx" classes match too
        errors = "\n  or ".join(f"sum by (job) (rate({n.counter}{sel(app, m)}[{r}]))" for m in five_xx)
        return Form(
            f"(\n  {errors}\n)\n/ sum by (job) (rate({n.counter}{sel(app)}[{r}]))",
            (("job",),),
            guard=f"sum by (job) (increase({n.counter}{sel(app)}[{r}])) >= {n.min_requests}",
        )
    if figure == "cpu_pct":
        c = sel(n.containers)
        return Form(
            f"100 * sum by ({CONTAINER_BY}) (rate(container_cpu_usage_seconds_total{c}[{r}]))\n"
            f"  / (sum by ({CONTAINER_BY}) (container_spec_cpu_quota{c})\n"
            f"     / sum by ({CONTAINER_BY}) (container_spec_cpu_period{c}))\n"
            f'or\n100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[{r}])))',
            (("name", "container", "instance"),),
        )
    if figure == "memory_pct":
        c = sel(n.containers)
        return Form(
            f"100 * sum by ({CONTAINER_BY}) (container_memory_working_set_bytes{c})\n"
            f"  / (sum by ({CONTAINER_BY}) (container_spec_memory_limit_bytes{c}) > 0)\n"
            "or\n100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
            (("name", "container", "instance"),),
        )
    if figure == "disk_pct":
        fs = sel(f'fstype!~"{FS_TYPES}"')
        used = f"(node_filesystem_size_bytes{fs} - node_filesystem_free_bytes{fs})"
        return Form(
            f"100 * {used}\n  / ({used} + node_filesystem_avail_bytes{fs})",  # as df computes Use%
            (("mountpoint",), " on ", ("instance",)),
        )
    if figure == "db_query_mean_ms":
        return Form(
            f"1000 * sum by (instance, datname) (rate(pg_stat_statements_seconds_total[{r}]))\n"
            f"  / sum by (instance, datname) (rate(pg_stat_statements_calls_total[{r}]))",
            (("datname",),),
        )
    if figure == "cache_hit_rate":
        hits = f"sum by (instance) (rate(redis_keyspace_hits_total[{r}]))"
        misses = f"sum by (instance) (rate(redis_keyspace_misses_total[{r}]))"
        return Form(
            f"{hits}\n  / ({hits} + {misses})",
            (("instance",),),
            guard=f"(sum by (instance) (increase(redis_keyspace_hits_total[{r}]))"
            f" + sum by (instance) (increase(redis_keyspace_misses_total[{r}]))) >= 100",
        )
    raise KeyError(figure)


def finding_form(code: str, n: Names, cfg: Config) -> Form | None:
    """The PromQL of a finding code, or None where no standard exporter has the figure."""
    th, r = cfg.thresholds, n.range
    forms = {
        "http.unreachable": Form(f"up{sel(n.selector)} == 0", (("instance",),), threshold=0.0, complete=True),
        "pg.unreachable": Form("pg_up == 0", (("instance",),), threshold=0.0, complete=True),
        "redis.unreachable": Form("redis_up == 0", (("instance",),), threshold=0.0, complete=True),
        # postgres_exporter ships no blocked-session metric: docs/alerts.md gives the query that adds it.
        "pg.blocked_queries": Form(
            "sum by (instance, datname) (pg_blocked_sessions) > 0",
            (("datname",),),
            threshold=0.0,
            complete=True,
        ),
        "pg.connections_saturated": Form(
            "100 * sum by (instance) (pg_stat_activity_count)\n"
            "  / on (instance) (sum by (instance) (pg_settings_max_connections)"
            " - sum by (instance) (pg_settings_superuser_reserved_connections))\n"
            f"> {th.connections_pct!r}",
            (("instance",),),
            threshold=th.connections_pct,
            complete=True,
        ),
        "pg.dead_tuples": Form(
            "pg_stat_user_tables_n_dead_tup\n"
            "  / (pg_stat_user_tables_n_live_tup + pg_stat_user_tables_n_dead_tup)\n"
            f"  > {th.dead_tuple_ratio!r}\nand pg_stat_user_tables_n_dead_tup >= {th.dead_tuple_min_rows}",
            (("schemaname",), ".", ("relname",)),
            threshold=th.dead_tuple_ratio,
            complete=True,
        ),
        "redis.oom_rejections": Form(
            f'sum by (instance) (increase(redis_errors_total{{err="OOM"}}[{r}])) > 0',
            (("instance",),),
            threshold=0.0,
            complete=True,
        ),
        "container.restarting": Form(
            f"changes(container_start_time_seconds{sel(n.containers)}[{RESTART_WINDOW}]) >= {RESTART_LOOP}",
            (("name", "container"),),
            threshold=float(RESTART_LOOP),
            complete=True,
        ),
    }
    return forms.get(code)


def subject_template(subject: Subject) -> str:
    """The Go template of a subject.

    >>> subject_template((("schemaname",), ".", ("relname",)))
    '{{ $labels.schemaname }}.{{ $labels.relname }}'
    """
    out = []
    for part in subject:
        if isinstance(part, str):
            out.append(part)
        elif len(part) == 1:
            out.append(f"{{{{ $labels.{part[0]} }}}}")
        else:
            out.append("{{ or " + " ".join(f"$labels.{p}" for p in part) + " }}")
    return "".join(out)


def subject_text(subject: Subject, labels: dict[str, str]) -> str:
    """What :func:`subject_template` gives for ``labels`` (Go's ``or``: the first non-empty, or the last)."""
    out = []
    for part in subject:
        if isinstance(part, str):
            out.append(part)
        else:
            values = [labels.get(p, "") for p in part]
            out.append(next((v for v in values if v), values[-1]))
    return "".join(out)
