"""Every finding code perfbook knows, with its default level and issue type.

Codes are dotted and never renamed. A rule builds findings through :func:`finding`, so the level
and issue type come from this one registry; the level may move with the value where the
code says so (``level=Level.CRITICAL`` for a disk at 95 %).

    >>> f = finding("pg.dead_tuples", "public.users", "35 % dead tuples", value=0.35, threshold=0.2)
    >>> (f.level.value, f.issue_type.value)
    ('warning', 'database')
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from perfbook.model import Action, Finding, IssueType, Level

CRIT, WARN, INFO = Level.CRITICAL, Level.WARNING, Level.INFO
RT, RES, DB, CACHE, NET, SCALE = (
    IssueType.HIGH_RESPONSE_TIME,
    IssueType.HIGH_RESOURCE_USAGE,
    IssueType.DATABASE,
    IssueType.CACHE,
    IssueType.NETWORK,
    IssueType.SCALABILITY,
)


@dataclass(frozen=True)
class CodeInfo:
    """The registry entry of one code: its default level, issue type and a one-line meaning."""

    level: Level
    issue_type: IssueType
    meaning: str


CODES: dict[str, CodeInfo] = {
    # HTTP / app
    "http.unreachable": CodeInfo(CRIT, NET, "the backend does not accept connections or answer at all"),
    "http.health_failed": CodeInfo(CRIT, RT, "the health check answers with an error or too late"),
    "http.slow_response": CodeInfo(
        CRIT, RT, "an endpoint's window p95 is over the limit (warning over severity_p3_s)"
    ),
    "http.error_rate_high": CodeInfo(CRIT, RT, "the window share of 5xx responses is over the limit"),
    "ws.latency_high": CodeInfo(WARN, NET, "WebSocket round trips p95 over ws_rtt_ms"),
    "ws.unreachable": CodeInfo(WARN, NET, "the configured WebSocket endpoint refuses or fails the handshake"),
    "frontend.slow_assets": CodeInfo(WARN, RT, "the page or one of its assets is slow, failing or too heavy"),
    # host / process
    "host.cpu_high": CodeInfo(WARN, RES, "host CPU over cpu_pct across the window (critical at 95 %)"),
    "host.memory_high": CodeInfo(WARN, RES, "host memory used over memory_pct (critical at 95 %)"),
    "host.swap_used": CodeInfo(WARN, RES, "the host is swapping: pages moved to swap during the window"),
    "host.disk_high": CodeInfo(WARN, RES, "a mount over disk_pct full (critical at 95 %)"),
    "host.large_logs": CodeInfo(INFO, RES, "a log file over log_file_mb"),
    "process.cpu_hog": CodeInfo(WARN, RES, "one process over process_cpu_pct of a core across the window"),
    "process.memory_growth": CodeInfo(
        WARN, RES, "a process's RSS grows steadily (least-squares slope, R² ≥ 0.9)"
    ),
    # containers
    "container.cpu_high": CodeInfo(
        WARN, RES, "a container's CPU over cpu_pct of its limit (or of the cores)"
    ),
    "container.memory_high": CodeInfo(
        WARN, RES, "a container's memory over memory_pct of its limit (critical at 95 %)"
    ),
    "container.restarting": CodeInfo(CRIT, RES, "a container in a restart loop"),
    "container.reclaimable": CodeInfo(
        INFO, RES, "stopped containers and dangling images a prune would free (never volumes)"
    ),
    # PostgreSQL
    "pg.unreachable": CodeInfo(CRIT, DB, "the configured database refuses the connection"),
    "pg.stat_statements_missing": CodeInfo(INFO, DB, "pg_stat_statements is not installed or not preloaded"),
    "pg.slow_queries": CodeInfo(WARN, DB, "statements slow in the window (critical over db_query_mean_ms)"),
    "pg.missing_index": CodeInfo(WARN, DB, "a large table read mostly by sequential scans"),
    "pg.dead_tuples": CodeInfo(WARN, DB, "a table with a large share of dead tuples"),
    "pg.long_running_query": CodeInfo(WARN, DB, "a statement running longer than long_query_s"),
    "pg.blocked_queries": CodeInfo(CRIT, DB, "sessions waiting on a lock another session holds"),
    "pg.idle_in_transaction": CodeInfo(
        WARN, DB, "sessions idle in a transaction longer than idle_in_transaction_s"
    ),
    "pg.connections_saturated": CodeInfo(CRIT, DB, "connections over connections_pct of max_connections"),
    "pg.unused_index": CodeInfo(INFO, DB, "an index never scanned since the statistics were reset"),
    "pg.duplicate_index": CodeInfo(INFO, DB, "two indexes on the same table and columns"),
    "pg.invalid_index": CodeInfo(WARN, DB, "an invalid index (a failed CREATE INDEX CONCURRENTLY)"),
    "pg.cache_hit_low": CodeInfo(WARN, DB, "buffer cache hit ratio under pg_cache_hit_ratio"),
    "pg.pooler_in_path": CodeInfo(
        INFO, DB, "a pooler (PgBouncer) or proxy sits between perfbook and PostgreSQL"
    ),
    # PgBouncer (its admin console)
    "pgbouncer.unreachable": CodeInfo(
        WARN, DB, "the configured PgBouncer admin console refuses the connection"
    ),
    "pgbouncer.pool_exhausted": CodeInfo(
        CRIT,
        DB,
        "clients wait for a server connection through the window, the oldest over pgbouncer_maxwait_s",
    ),
    "pgbouncer.pool_saturated": CodeInfo(
        WARN, DB, "every server connection of a pool is active through the window"
    ),
    # Redis
    "redis.unreachable": CodeInfo(CRIT, CACHE, "the configured Redis refuses the connection"),
    "redis.hit_rate_low": CodeInfo(WARN, CACHE, "keyspace hit rate over the window under cache_hit_rate"),
    "redis.memory_high": CodeInfo(WARN, CACHE, "used memory over redis_memory_pct of maxmemory"),
    "redis.oom_rejections": CodeInfo(CRIT, CACHE, "writes refused with OOM (maxmemory reached, noeviction)"),
    "redis.evictions": CodeInfo(WARN, CACHE, "keys evicted during the window"),
    "redis.latency_high": CodeInfo(WARN, CACHE, "PING round trip p99 over redis_latency_ms"),
    "redis.fragmentation_high": CodeInfo(INFO, CACHE, "mem_fragmentation_ratio over redis_fragmentation"),
    "redis.big_keys": CodeInfo(INFO, CACHE, "keys over redis_big_key_mb"),
    "redis.big_keys_sampled": CodeInfo(
        INFO, CACHE, "the big-key scan read only part of the keys (its coverage)"
    ),
    "redis.slowlog": CodeInfo(INFO, CACHE, "commands in SLOWLOG"),
    # saturation and errors (USE method), over the window
    "host.cpu_saturated": CodeInfo(
        WARN, RES, "run queue over the cores and tasks stalled on CPU (PSI); critical at cpu_psi_critical_pct"
    ),
    "host.cpu_steal": CodeInfo(
        WARN, RES, "the hypervisor gave this VM's CPU time to others (steal over cpu_steal_pct)"
    ),
    "host.memory_pressure": CodeInfo(
        WARN, RES, "tasks stalled on memory (PSI), major faults or swap-in during the window"
    ),
    "host.oom_kill": CodeInfo(CRIT, RES, "the kernel's OOM killer killed a process during the window"),
    "host.disk_io_saturated": CodeInfo(
        WARN, RES, "a disk busy with long waits, or tasks stalled on I/O (critical at full pressure)"
    ),
    "process.fd_exhaustion": CodeInfo(
        WARN, RES, "a process holds open files near its soft limit (critical at 100 %)"
    ),
    "container.cpu_throttled": CodeInfo(
        WARN, RES, "a container throttled by its CPU quota in a large share of the window"
    ),
    "process.cpu_throttled": CodeInfo(WARN, RES, "a configured process throttled by its cgroup's CPU quota"),
    "net.tcp_retransmits": CodeInfo(
        WARN, NET, "TCP segments retransmitted over tcp_retrans_share of those sent"
    ),
    "net.listen_overflows": CodeInfo(
        CRIT, NET, "a full accept queue turned connects away (clients retry SYNs after 1-3 s)"
    ),
    "net.interface_errors": CodeInfo(WARN, NET, "an interface counted errors or drops during the window"),
    "net.bandwidth_saturated": CodeInfo(WARN, NET, "an interface near its link speed (receive or transmit)"),
    "net.close_wait_buildup": CodeInfo(
        WARN, NET, "sockets the peer closed but the application did not (CLOSE_WAIT)"
    ),
    "net.ephemeral_ports": CodeInfo(WARN, NET, "outgoing connections hold most of the ephemeral port range"),
    "net.conntrack_full": CodeInfo(
        WARN, NET, "the conntrack table near full (new flows are dropped when it is; critical at 95 %)"
    ),
    "net.dependency_latency": CodeInfo(
        WARN, NET, "TCP connects to a dependency slow (p95 over connect_ms) or failing"
    ),
    # fleet (Prometheus)
    "prometheus.unreachable": CodeInfo(
        WARN, NET, "the configured Prometheus does not answer or refuses the queries"
    ),
    "prometheus.instance_outlier": CodeInfo(
        WARN, RT, "one replica's p95 or 5xx share stands out from the others' on a route"
    ),
}


def finding(
    code: str,
    subject: str,
    title: str,
    *,
    value: float | None = None,
    threshold: float | None = None,
    unit: str | None = None,
    evidence: dict[str, Any] | None = None,
    actions: tuple[Action, ...] | list[Action] = (),
    level: Level | None = None,
    low_confidence: bool = False,
) -> Finding:
    """Build a Finding whose level and issue type come from the registry.

    ``level`` overrides the default where a code's level moves with its value (disk at 95 % is
    critical; ``http.slow_response`` is a warning between ``severity_p3_s`` and ``p95_s``).
    An unknown code is a KeyError: a perfbook bug, caught by the registry test.
    """
    info = CODES[code]
    return Finding(
        code=code,
        level=info.level if level is None else level,
        issue_type=info.issue_type,
        subject=subject,
        title=title,
        value=value,
        threshold=threshold,
        unit=unit,
        evidence=dict(evidence or {}),
        actions=tuple(actions),
        low_confidence=low_confidence,
    )


def action(fix_id: str, summary: str, manual: str, **params: Any) -> Action:
    """An Action whose ``command`` is ``perfbook fix ID --param value …`` built from ``params``.

    The fix catalog takes exactly these ``--kebab-case`` options; lists are comma-joined. Use
    ``fix_id`` without a catalog entry (``command=None``) only for advice perfbook cannot perform.

    >>> action("pg.create_index", "index users(email)", "psql -c ...", table="public.users", columns=["email"]).command
    'perfbook fix pg.create_index --table public.users --columns email'
    """
    parts = ["perfbook", "fix", fix_id]
    for key, value in params.items():
        if value is None or value is False:
            continue
        if value is True:  # a flag: `--blocking`, never `--blocking True` (see #8)
            parts.append(f"--{key.replace('_', '-')}")
            continue
        text = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        parts += [f"--{key.replace('_', '-')}", shlex.quote(text)]
    return Action(id=fix_id, summary=summary, manual=manual, command=" ".join(parts), params=dict(params))
