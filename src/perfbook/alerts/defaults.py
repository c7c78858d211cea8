"""The built-in alert rules: the runbook's four (their names kept), one per other KPI and critical finding.

Thresholds come from ``[thresholds]`` (the runbook's KPIs), so a changed ``p95_s`` moves
``HighResponseTime`` too. ``for`` follows the runbook where it gives one (2 min for latency and
errors, 5 min for CPU and memory). Pure; the table in docs/alerts.md is checked against this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfbook.config import Config


@dataclass(frozen=True)
class DefaultRule:
    """One built-in rule before it meets the config: ``when`` as text, durations as text."""

    name: str
    when: str
    for_: str
    severity: str
    summary: str
    description: str
    keep_firing_for: str = "1m"  # triage windows are short: ride out one quiet run before resolving


SEE_MORE = "perfbook triage"


def default_rules(cfg: Config) -> list[DefaultRule]:
    """Every built-in rule with this config's thresholds, in :data:`perfbook.alerts.names.DEFAULT_NAMES` order."""
    th = cfg.thresholds
    n = cfg.http.min_window_requests
    kpi = [
        DefaultRule(
            "HighResponseTime",
            f"p95_s > {th.p95_s:g}",
            "2m",
            "warning",
            "p95 response time {value} on {subject} (limit {threshold})",
            "The window p95 of {subject} stayed over {threshold}; endpoints with fewer than "
            f"{n} requests in a window are not judged. See: {SEE_MORE} --only http,metrics,postgres",
        ),
        DefaultRule(
            "HighErrorRate",
            f"error_rate > {th.error_rate:g}",
            "2m",
            "warning",
            "5xx share {value} of requests to {subject} (limit {threshold})",
            f"The share of 5xx answers, judged only from {n} requests in a window: a busy service "
            "with rare errors does not page, a small one failing half its requests does. "
            f"See: {SEE_MORE} --only http,metrics",
        ),
        DefaultRule(
            "HighCPUUsage",
            f"cpu_pct > {th.cpu_pct:g}",
            "5m",
            "warning",
            "CPU {value} on {subject} (limit {threshold})",
            "A container against its own CPU limit, the host against all its cores. "
            f"See: {SEE_MORE} --only host,process,containers",
        ),
        DefaultRule(
            "HighMemoryUsage",
            f"memory_pct > {th.memory_pct:g}",
            "5m",
            "warning",
            "memory {value} on {subject} (limit {threshold})",
            "A container against its own memory limit, the host against its memory. "
            f"See: {SEE_MORE} --only host,process,containers",
        ),
        DefaultRule(
            "HighDiskUsage",
            f"disk_pct > {th.disk_pct:g}",
            "5m",
            "warning",
            "disk {subject} {value} full (limit {threshold})",
            f"See what fills it: {SEE_MORE} --only host",
        ),
        DefaultRule(
            "SlowDatabaseQueries",
            f"db_query_mean_ms > {th.db_query_mean_ms:g}",
            "5m",
            "warning",
            "mean query time {value} on {subject} (limit {threshold})",
            f"Mean statement time over the window (pg_stat_statements). See: {SEE_MORE} --only postgres",
        ),
        DefaultRule(
            "LowCacheHitRate",
            f"cache_hit_rate < {th.cache_hit_rate:g}",
            "10m",
            "warning",
            "cache hit rate {value} on {subject} (target {threshold})",
            f"Judged from 100 lookups in a window. See: {SEE_MORE} --only redis",
        ),
    ]
    return kpi + _finding_rules()


def _finding_rules() -> list[DefaultRule]:
    crit = "critical"
    return [
        DefaultRule(
            "BackendUnreachable",
            "finding http.unreachable",
            "1m",
            crit,
            "backend {subject} does not answer",
            "While it fires, the latency and error alerts of this backend are held back (inhibited). "
            f"See: {SEE_MORE} --only http",
        ),
        DefaultRule(
            "PostgresUnreachable",
            "finding pg.unreachable",
            "1m",
            crit,
            "PostgreSQL {subject} refuses connections",
            f"See: {SEE_MORE} --only postgres",
        ),
        DefaultRule(
            "RedisUnreachable",
            "finding redis.unreachable",
            "1m",
            crit,
            "Redis {subject} refuses connections",
            f"See: {SEE_MORE} --only redis",
        ),
        DefaultRule(
            "PostgresBlockedQueries",
            "finding pg.blocked_queries",
            "1m",
            crit,
            "sessions blocked by a lock on {subject}",
            f"Sessions wait on a lock another session holds. See: {SEE_MORE} --only postgres",
        ),
        DefaultRule(
            "PostgresConnectionsSaturated",
            "finding pg.connections_saturated",
            "2m",
            crit,
            "connections {value} of the limit on {subject} (limit {threshold})",
            f"See who holds them: {SEE_MORE} --only postgres",
        ),
        DefaultRule(
            "PostgresDeadTuples",
            "finding pg.dead_tuples",
            "15m",
            "warning",
            "{subject} is {value} dead tuples (limit {threshold})",
            f"Autovacuum does not keep up. See: {SEE_MORE} --only postgres",
        ),
        DefaultRule(
            "RedisOOMRejections",
            "finding redis.oom_rejections",
            "1m",
            crit,
            "Redis {subject} refuses writes (OOM)",
            f"maxmemory reached with a noeviction policy. See: {SEE_MORE} --only redis",
        ),
        DefaultRule(
            "ContainerRestarting",
            "finding container.restarting",
            "1m",
            crit,
            "container {subject} is in a restart loop",
            f"See: {SEE_MORE} --only containers",
        ),
    ]
