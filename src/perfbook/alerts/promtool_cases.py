"""The promtool tests' synthetic worlds: per figure and finding, series that fire it or keep it quiet. Pure.

Every builder takes the value on the alerting side (``bad``) and on the quiet side (``good``) of
the rule's threshold and returns cases with the labels the alert must carry and its ``$value``.
Counters grow one sample a minute, so ``rate()`` over the range is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perfbook.alerts.promforms import CONTAINER_BY, RESTART_LOOP, Names
from perfbook.alerts.when import KpiCondition, value_text

if TYPE_CHECKING:
    from perfbook.config import Config

Labels = dict[str, str]
CONTAINER_LABELS = tuple(CONTAINER_BY.split(", "))  # what the container expressions group by


@dataclass
class Case:
    """One promtool test: series, and the alerts expected at the end (label sets, one ``$value``)."""

    title: str
    series: list[tuple[str, Labels, str]] = field(default_factory=list)  # (metric, labels, values)
    alerts: list[Labels] = field(default_factory=list)
    value: float | None = None

    def add(self, metric: str, labels: Labels, values: str) -> Case:
        self.series.append((metric, dict(labels), values))
        return self


@dataclass(frozen=True)
class World:
    """How long each series runs (samples, one a minute) and the labels the selectors require."""

    minutes: int
    app: dict[str, str | None]
    containers: dict[str, str | None]

    def counter(self, per_s: float) -> str:
        """A counter growing ``per_s`` a second."""
        return f"0+{_num(per_s * 60)}x{self.minutes}"

    def gauge(self, value: float) -> str:
        return f"{_num(value)}x{self.minutes}"


def merged(base: Labels, required: dict[str, str | None]) -> Labels:
    """``base`` with what a selector requires: a value it names, or (None) any value the label may have."""
    out = dict(base)
    for name, value in required.items():
        if value is None:
            out.setdefault(name, "x")
        else:
            out[name] = value
    return out


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(round(x, 9))


def sides(cond: KpiCondition, unit: str) -> tuple[float | None, float | None]:
    """A value on the alerting side of the threshold and one on the quiet side (None: there is none).

    >>> sides(KpiCondition("p95_s", ">", 2.0), "s"), sides(KpiCondition("cache_hit_rate", "<", 0.9), "share")
    ((4.0, 1.0), (0.45, 0.95))
    """
    t, top = cond.threshold, {"share": 1.0, "pct": 100.0}.get(unit)
    if top is not None and t >= top:
        above = None
    elif top is not None:
        above = min(2 * t, (t + top) / 2) if t > 0 else top / 2
    else:
        above = 2 * t if t > 0 else 1.0
    below = t / 2 if t > 0 else (0.0 if cond.op in (">", "<=") else None)
    return (above, below) if cond.op in (">", ">=") else (below, above)


def _pair(
    bad: float | None, good: float | None, fire: Callable[[float], Case], quiet: Callable[[float], Case]
) -> list[Case]:
    return ([fire(bad)] if bad is not None else []) + ([quiet(good)] if good is not None else [])


def p95_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    h = n.histogram

    def endpoint(case: Case, labels: Labels, p95_s: float, per_s: float) -> Case:
        bound = p95_s / 0.95  # every request in the first bucket: the 95th percentile is 0.95 of its bound
        case.add(f"{h}_bucket", {**labels, "le": repr(bound)}, w.counter(per_s))
        case.add(f"{h}_bucket", {**labels, "le": "+Inf"}, w.counter(per_s))
        return case.add(f"{h}_count", labels, w.counter(per_s))

    app = merged({"job": "app"}, w.app)

    def fire(v: float) -> Case:
        case = Case(
            f"fires: p95 {value_text('s', v)} on /api/v1/users and /login",
            value=v,
            alerts=[{"job": app["job"], "handler": "/api/v1/users"}, {"job": app["job"], "path": "/login"}],
        )
        endpoint(case, {**app, "handler": "/api/v1/users"}, v, 2.0)
        endpoint(case, {**app, "path": "/login"}, v, 2.0)  # prometheus-flask-exporter / express spell it path
        endpoint(case, {**app, "handler": "/api/v1/rare"}, v, 0.01)  # 3 requests in 5 min: not judged
        for skipped in n.skip_paths:  # /metrics and /health are never judged
            endpoint(case, {**app, "handler": skipped}, v, 1.0)
        return case

    def quiet(v: float) -> Case:
        return endpoint(Case(f"quiet: p95 {value_text('s', v)}"), {**app, "handler": "/api/v1/users"}, v, 2.0)

    return _pair(bad, good, fire, quiet)


def error_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    app = merged({"job": "app"}, w.app)

    def traffic(title: str, share: float, rps: float, status: str, error: str, fires: bool) -> Case:
        case = Case(title, alerts=[{"job": app["job"]}] if fires else [], value=share if fires else None)
        labels = {**app, "handler": "/api/v1/users"}
        case.add(n.counter, {**labels, status: "200"}, w.counter(rps * (1 - share)))
        return case.add(n.counter, {**labels, status: error}, w.counter(rps * share))

    out = []
    if bad is not None:
        out.append(
            traffic(f"fires: {value_text('share', bad)} 5xx at 10 rps", bad, 10, "status", "5xx", True)
        )
    if good is not None:
        out.append(
            traffic(f"quiet: {value_text('share', good)} 5xx at 10 rps", good, 10, "code", "503", False)
        )
    if bad is not None and good is not None and bad > good:
        # The runbook's rate(...{status=~"5.."}) > 0.01 is an absolute rate: a busy service with rare
        # errors fires it, a small failing one may not. A share fires on the second only.
        busy = good
        out.append(
            traffic(
                f"quiet: {value_text('share', busy)} 5xx at 1000 rps ({busy * 1000:g} errors/s, "
                "which the runbook's absolute rule would page on)",
                busy,
                1000,
                "status",
                "500",
                False,
            )
        )
        small = min(bad * 5, (1 + bad) / 2) if bad < 1 else bad
        out.append(
            traffic(
                f"fires: {value_text('share', small)} 5xx at 10 rps ({small * 10:g} errors/s)",
                small,
                10,
                "status_code",
                "502",
                True,
            )
        )
        few = n.min_requests / 2 / 300  # half the requests a 5-minute range needs to judge a share
        out.append(
            traffic(
                f"quiet: {value_text('share', 0.5)} 5xx but only {n.min_requests // 2} requests in 5 min",
                0.5,
                few,
                "status",
                "500",
                False,
            )
        )
    return out


def cpu_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    api = merged({"instance": "cadvisor:8080", "name": "api"}, w.containers)
    out_labels = {k: v for k, v in api.items() if k in CONTAINER_LABELS}

    def world(
        title: str, container_pct: float, host_pct: float, alerts: list[Labels], value: float | None
    ) -> Case:
        case = Case(title, alerts=alerts, value=value)
        case.add("container_cpu_usage_seconds_total", api, w.counter(2 * container_pct / 100))  # 2-core limit
        case.add("container_spec_cpu_quota", api, w.gauge(200000)).add(
            "container_spec_cpu_period", api, w.gauge(100000)
        )
        batch = {**api, "name": "batch"}  # no CPU limit: judged by the host's figure, never alone
        case.add("container_cpu_usage_seconds_total", batch, w.counter(1.5))
        for cpu in ("0", "1"):
            case.add(
                "node_cpu_seconds_total",
                {"instance": "node:9100", "cpu": cpu, "mode": "idle"},
                w.counter(1 - host_pct / 100),
            )
        return case

    out = []
    if bad is not None and good is not None:
        out.append(
            world(
                f"fires: container api at {value_text('pct', bad)} of its 2-core limit",
                bad,
                good,
                [out_labels],
                bad,
            )
        )
        out.append(
            world(f"fires: the host at {value_text('pct', bad)}", good, bad, [{"instance": "node:9100"}], bad)
        )
        out.append(
            world(
                f"quiet: {value_text('pct', good)} (a container without a limit is left to the host)",
                good,
                good,
                [],
                None,
            )
        )
    return out


def memory_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    api = merged({"instance": "cadvisor:8080", "name": "api"}, w.containers)
    out_labels = {k: v for k, v in api.items() if k in CONTAINER_LABELS}
    limit, total = 512 * 1024**2, 8 * 1024**3

    def world(
        title: str, container_pct: float, host_pct: float, alerts: list[Labels], value: float | None
    ) -> Case:
        case = Case(title, alerts=alerts, value=value)
        case.add("container_memory_working_set_bytes", api, w.gauge(limit * container_pct / 100))
        case.add("container_spec_memory_limit_bytes", api, w.gauge(limit))
        batch = {**api, "name": "batch"}  # limit 0 (none): cAdvisor's 0 must not divide into +Inf
        case.add("container_memory_working_set_bytes", batch, w.gauge(4 * 1024**3))
        case.add("container_spec_memory_limit_bytes", batch, w.gauge(0))
        host = {"instance": "node:9100"}
        case.add("node_memory_MemTotal_bytes", host, w.gauge(total))
        return case.add("node_memory_MemAvailable_bytes", host, w.gauge(total * (1 - host_pct / 100)))

    out = []
    if bad is not None and good is not None:
        out.append(
            world(
                f"fires: container api at {value_text('pct', bad)} of its limit", bad, good, [out_labels], bad
            )
        )
        out.append(
            world(f"fires: the host at {value_text('pct', bad)}", good, bad, [{"instance": "node:9100"}], bad)
        )
        out.append(
            world(f"quiet: {value_text('pct', good)}, and a container without a limit", good, good, [], None)
        )
    return out


def disk_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    root = {"instance": "node:9100", "device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/"}
    run = {"instance": "node:9100", "device": "tmpfs", "fstype": "tmpfs", "mountpoint": "/run"}
    size = 100e9

    def world(title: str, pct: float, fires: bool) -> Case:
        case = Case(title, alerts=[root] if fires else [], value=pct if fires else None)
        for labels, used_pct in ((root, pct), (run, 99.0)):  # a full tmpfs is no disk alert
            case.add("node_filesystem_size_bytes", labels, w.gauge(size))
            case.add("node_filesystem_free_bytes", labels, w.gauge(size * (1 - used_pct / 100)))
            case.add("node_filesystem_avail_bytes", labels, w.gauge(size * (1 - used_pct / 100)))
        return case

    return _pair(
        bad,
        good,
        lambda v: world(f"fires: / {value_text('pct', v)} full", v, True),
        lambda v: world(f"quiet: / {value_text('pct', v)} full, /run (tmpfs) 99 %", v, False),
    )


def db_mean_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    labels = {"instance": "pg:9187", "datname": "app", "user": "app", "queryid": "42"}

    def world(title: str, mean_ms: float, fires: bool) -> Case:
        case = Case(
            title,
            alerts=[{"instance": "pg:9187", "datname": "app"}] if fires else [],
            value=mean_ms if fires else None,
        )
        case.add("pg_stat_statements_calls_total", labels, w.counter(5))
        return case.add("pg_stat_statements_seconds_total", labels, w.counter(5 * mean_ms / 1000))

    return _pair(
        bad,
        good,
        lambda v: world(f"fires: mean {value_text('ms', v)}", v, True),
        lambda v: world(f"quiet: mean {value_text('ms', v)}", v, False),
    )


def cache_cases(w: World, n: Names, bad: float | None, good: float | None) -> list[Case]:
    labels = {"instance": "redis:9121"}

    def world(title: str, rate: float, lookups_per_s: float, fires: bool) -> Case:
        case = Case(title, alerts=[labels] if fires else [], value=rate if fires else None)
        case.add("redis_keyspace_hits_total", labels, w.counter(lookups_per_s * rate))
        return case.add("redis_keyspace_misses_total", labels, w.counter(lookups_per_s * (1 - rate)))

    out = _pair(
        bad,
        good,
        lambda v: world(f"fires: hit rate {value_text('share', v)}", v, 10, True),
        lambda v: world(f"quiet: hit rate {value_text('share', v)}", v, 10, False),
    )
    if bad is not None:
        out.append(
            world(
                f"quiet: hit rate {value_text('share', bad)} from only 30 lookups in 5 min", bad, 0.1, False
            )
        )
    return out


def _up(metric: str, labels: Labels) -> Callable[[World, Any, Any], list[Case]]:
    def build(w: World, e: Any, cfg: Any) -> list[Case]:
        full = merged(labels, w.app) if metric == "up" else labels
        return [
            Case(f"fires: {metric} is 0", alerts=[full], value=0.0).add(metric, full, w.gauge(0)),
            Case(f"quiet: {metric} is 1").add(metric, full, w.gauge(1)),
        ]

    return build


def blocked_cases(w: World, e: Any, cfg: Config) -> list[Case]:
    labels = {"instance": "pg:9187", "datname": "app"}
    return [
        Case("fires: 3 sessions wait on a lock", alerts=[labels], value=3.0).add(
            "pg_blocked_sessions", labels, w.gauge(3)
        ),
        Case("quiet: no session waits").add("pg_blocked_sessions", labels, w.gauge(0)),
    ]


def connections_cases(w: World, e: Any, cfg: Config) -> list[Case]:
    limit = cfg.thresholds.connections_pct
    inst = {"instance": "pg:9187"}

    def world(title: str, used: float, fires: bool) -> Case:
        case = Case(title, alerts=[inst] if fires else [], value=used if fires else None)
        case.add("pg_stat_activity_count", {**inst, "datname": "app", "state": "active"}, w.gauge(used))
        case.add("pg_settings_max_connections", inst, w.gauge(103))
        return case.add("pg_settings_superuser_reserved_connections", inst, w.gauge(3))

    high = (limit + 100) / 2
    return [
        world(f"fires: {high:g} of 100 usable connections", high, True),
        world(f"quiet: {limit / 2:g} of 100 usable connections", limit / 2, False),
    ]


def dead_tuple_cases(w: World, e: Any, cfg: Config) -> list[Case]:
    th = cfg.thresholds
    labels = {"instance": "pg:9187", "datname": "app", "schemaname": "public", "relname": "orders"}
    tiny = {**labels, "relname": "settings"}
    dead = max(th.dead_tuple_min_rows, 1) * 5

    def table(case: Case, labels: Labels, ratio: float, dead_rows: float) -> Case:
        case.add("pg_stat_user_tables_n_dead_tup", labels, w.gauge(dead_rows))
        return case.add("pg_stat_user_tables_n_live_tup", labels, w.gauge(dead_rows * (1 - ratio) / ratio))

    bad, good = (1 + th.dead_tuple_ratio) / 2, th.dead_tuple_ratio / 2
    fire = table(
        Case(f"fires: public.orders {value_text('share', bad)} dead", alerts=[labels], value=bad),
        labels,
        bad,
        dead,
    )
    quiet = (
        table(
            Case(f"quiet: public.orders {value_text('share', good)} dead; a tiny table half dead"),
            labels,
            good,
            dead,
        )
        if good > 0
        else Case("quiet: a tiny table half dead")
    )
    if th.dead_tuple_min_rows > 1:  # too few dead rows to matter, whatever the share
        table(quiet, tiny, bad, th.dead_tuple_min_rows - 1)
    return [fire, quiet]


def oom_cases(w: World, e: Any, cfg: Config) -> list[Case]:
    labels = {"instance": "redis:9121", "err": "OOM"}
    return [
        Case("fires: writes refused with OOM", alerts=[{"instance": "redis:9121"}], value=300.0).add(
            "redis_errors_total", labels, w.counter(1)
        ),  # one a second: 300 in 5 min
        Case("quiet: old OOM errors, none now").add("redis_errors_total", labels, w.gauge(5)),
    ]


def restart_cases(w: World, e: Any, cfg: Config) -> list[Case]:
    labels = merged({"instance": "cadvisor:8080", "name": "api"}, w.containers)
    out = dict(labels)  # changes() keeps every label but the name
    restarts = 10  # one restart a minute over the 10-minute window (both ends are samples)
    return [
        Case(
            f"fires: restarted every minute (at least {RESTART_LOOP} in 10 min)",
            alerts=[out],
            value=float(restarts),
        ).add("container_start_time_seconds", labels, f"1000+60x{w.minutes}"),
        Case("quiet: up since it started").add("container_start_time_seconds", labels, w.gauge(1000)),
    ]


FigureBuilder = Callable[[World, Names, "float | None", "float | None"], list[Case]]
FindingBuilder = Callable[[World, Any, "Config"], list[Case]]

FIGURE_CASES: dict[str, FigureBuilder] = {
    "p95_s": p95_cases,
    "error_rate": error_cases,
    "cpu_pct": cpu_cases,
    "memory_pct": memory_cases,
    "disk_pct": disk_cases,
    "db_query_mean_ms": db_mean_cases,
    "cache_hit_rate": cache_cases,
}
FINDING_CASES: dict[str, FindingBuilder] = {
    "http.unreachable": _up("up", {"job": "app", "instance": "app:8001"}),
    "pg.unreachable": _up("pg_up", {"instance": "pg:9187"}),
    "redis.unreachable": _up("redis_up", {"instance": "redis:9121"}),
    "pg.blocked_queries": blocked_cases,
    "pg.connections_saturated": connections_cases,
    "pg.dead_tuples": dead_tuple_cases,
    "redis.oom_rejections": oom_cases,
    "container.restarting": restart_cases,
}
