"""Typed configuration: ``perfbook.toml`` + environment + flags, validated, with where each value came from.

Precedence: command line > environment > file > defaults (README "perfbook config"). Every key
can be set from the environment as ``PERFBOOK_<SECTION>_<KEY>`` (``PERFBOOK_POSTGRES_DSN``,
``PERFBOOK_THRESHOLDS_P95_S``); lists take comma-separated values. ``[containers] engine`` also
falls back to ``DOCKER_HOST``.

    cfg = load_config(Path("perfbook.toml"))
    cfg.thresholds.p95_s          # 2.0
    cfg.source_of("postgres.dsn") # "env PERFBOOK_POSTGRES_DSN"

A bad value or an unknown key raises :class:`ConfigError` naming the file, line and key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from perfbook import config_checks
from perfbook.errors import ConfigError
from perfbook.redact import redact_notify_url, redact_url

ENV_PREFIX = "PERFBOOK_"
DEFAULT_PATH = Path("perfbook.toml")
NOTIFY_URL_KEYS = ("notify.urls", "notify.external_urls")  # apprise URLs hold tokens in their path


_ALERT_RULE_SAMPLE = """\
# [[alerts.rules]]                 # one table per rule; a built-in's name replaces it (perfbook alerts rules)
# name = "SlowApi"
# when = "p95_s > 1.5"             # or "error_rate > 0.05", "cache_hit_rate < 0.8", "finding pg.blocked_queries"
# for = "2m"
# keep_firing_for = "1m"
# severity = "warning"
# summary = "p95 {value} on {subject} (limit {threshold})"
"""


class _Section(BaseModel):
    # inf and nan are no thresholds: `p95_s = inf` would pass every check (see config_checks)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Endpoint(_Section):
    """One endpoint to time: a path, or a table with method, headers and the status to expect."""

    path: str = Field(description="path under base_url, e.g. /api/v1/users")
    method: str = Field("GET", description="HTTP method")
    headers_env: str | None = Field(None, description="name of an env var holding 'Name: value' lines")
    expect_status: int | None = Field(
        None, ge=100, le=599, description="status to expect; default any non-5xx"
    )


class HttpConfig(_Section):
    base_url: str = Field("http://localhost:8001", description="the backend (PERFBOOK_HTTP_BASE_URL)")
    health_path: str = Field("/health", description="health check path")
    metrics_path: str = Field("/metrics", description='Prometheus metrics path; "" = no metrics probe')
    endpoints: list[str | Endpoint] = Field(
        default_factory=lambda: list[str | Endpoint](["/health", "/api/v1/users", "/api/v1/agents"]),
        description="endpoints to time: paths, or [[http.endpoints]] tables",
    )
    timeout_s: float = Field(
        5.0, gt=0, description="per-request timeout; a timed-out request counts as taking this long"
    )
    verify_tls: bool | str = Field(True, description="verify TLS certificates, or a CA bundle path")
    min_window_requests: int = Field(
        20, ge=1, description="requests a window figure needs to escalate severity"
    )
    samples_per_endpoint: int = Field(
        5, ge=1, le=100, description="timed requests per endpoint across the window"
    )
    backend_logs: str = Field(
        "",
        description="how manual commands read the backend's log: a file path "
        '(/var/log/api.log) or a command (journalctl -u api, docker logs api); "" = from '
        "the backend's process (its systemd unit or container), else a placeholder",
    )
    max_body_bytes: int = Field(
        10 * 2**20, ge=1024, description="most bytes of a response body read (the rest is cut, and said)"
    )
    max_metrics_bytes: int = Field(
        2 * 2**20, ge=1024, description="most bytes of one /metrics page read (cut at a line end, and said)"
    )
    max_headers: int = Field(100, ge=1, description="most response headers accepted; more fails that request")
    max_header_bytes: int = Field(
        64 * 2**10, ge=1024, description="most bytes of response headers accepted; more fails that request"
    )

    def endpoint_list(self) -> list[Endpoint]:
        """Every configured endpoint as an :class:`Endpoint`."""
        return [Endpoint(path=e) if isinstance(e, str) else e for e in self.endpoints]


class FrontendConfig(_Section):
    url: str = Field(
        "http://localhost:3000", description='the web frontend (PERFBOOK_FRONTEND_URL); "" = skipped'
    )
    max_assets: int = Field(50, ge=1, description="most assets fetched from the page")


class WebsocketConfig(_Section):
    url: str = Field("", description='e.g. ws://localhost:8001/ws (PERFBOOK_WEBSOCKET_URL); "" = skipped')
    mode: Literal["ping", "echo"] = Field(
        "ping", description="ping/pong frames, or echo when the server echoes"
    )
    samples: int = Field(10, ge=1, le=1000, description="round trips across the window")
    max_message_bytes: int = Field(
        2**20, ge=1024, description="largest message accepted; a bigger one closes the connection"
    )


class PostgresConfig(_Section):
    dsn: str = Field(
        "",
        description='e.g. postgresql://codexos@localhost:5432/codexos_db (PERFBOOK_POSTGRES_DSN); "" = skipped',
    )
    statement_timeout_ms: int = Field(
        3000,
        gt=0,
        description="statement_timeout of perfbook's own reads (SET LOCAL in each of its transactions)",
    )
    lock_timeout_ms: int = Field(
        100, gt=0, description="lock_timeout of perfbook's own reads (SET LOCAL in each of its transactions)"
    )


class PgbouncerConfig(_Section):
    dsn: str = Field(
        "",
        description="PgBouncer's admin console, e.g. postgresql://pgbouncer@localhost:6432/pgbouncer "
        '(PERFBOOK_PGBOUNCER_DSN; the user must be in admin_users or stats_users); "" = skipped',
    )
    timeout_s: float = Field(2.0, gt=0, description="timeout of one connection or SHOW command")


class RedisConfig(_Section):
    url: str = Field("", description='e.g. redis://localhost:6379/0 (PERFBOOK_REDIS_URL); "" = skipped')
    cache_db: int = Field(0, ge=0, description="the only database a cache flush may touch")
    queue_db: int | None = Field(
        1, ge=0, description="database holding the WebSocket message queue (never flushed)"
    )
    big_keys_sample: int = Field(
        10_000_000, ge=0, description="most keys the big-key scan reads (SCAN + MEMORY USAGE); 0 = no scan"
    )
    big_keys_budget_s: float = Field(
        0.0,
        ge=0,
        description="most seconds the big-key scan takes, within the window "
        "(0 = 80 % of it); a scan that cannot finish says what it covered",
    )
    databases: int = Field(16, ge=1, description="the server's `databases` setting: dbs 0..databases-1 exist")


class ContainersConfig(_Section):
    engine: str = Field(
        "", description='Docker Engine API address; "" = DOCKER_HOST, else unix:///var/run/docker.sock'
    )
    names: list[str] = Field(default_factory=list, description="containers that matter; [] = all running")
    labels: list[str] = Field(default_factory=list, description="label selectors, e.g. app=codexos")

    def engine_url(self, env: Mapping[str, str] | None = None) -> str:
        """The engine address to use: this key, else ``DOCKER_HOST``, else the default socket."""
        env = os.environ if env is None else env
        return self.engine or env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


class HostConfig(_Section):
    log_dirs: list[str] = Field(
        default_factory=lambda: ["/var/log"], description="directories searched for large logs"
    )
    remote: Literal["auto", "force", "skip"] = Field(
        "auto",
        description="host/process/containers describe THIS machine: skipped for non-local targets unless force",
    )


class ProcessConfig(_Section):
    match: list[str] = Field(
        default_factory=lambda: ["uvicorn", "node"], description="process name / cmdline patterns"
    )
    pids: list[int] = Field(default_factory=list, description="pids to watch")
    warmup_s: float = Field(
        120.0,
        ge=0,
        description="a process younger than this is warming up (JIT, caches, "
        "pools): its RSS growth is reported as info, not judged a leak",
    )


class TriageConfig(_Section):
    window_s: float = Field(
        2.0, gt=0, le=3600, description="how long rate-based figures are sampled (--window)"
    )


class FixConfig(_Section):
    restart_commands: dict[str, str] = Field(
        default_factory=dict,
        description='process.restart: name -> command, e.g. backend = "systemctl restart api"',
    )


class StoreConfig(_Section):
    url: str = Field(
        "",
        description='SQLAlchemy URL of perfbook\'s store (PERFBOOK_STORE_URL); "" = SQLite under the state directory',
    )
    busy_timeout_s: float = Field(
        10.0, gt=0, le=600, description="SQLite: how long a write waits for another writer's lock"
    )


class PrometheusConfig(_Section):
    url: str = Field(
        "",
        description='the Prometheus HTTP API, e.g. http://prometheus:9090 (PERFBOOK_PROMETHEUS_URL); "" = skipped',
    )
    selector: str = Field(
        "", description='label matchers of the service\'s series, e.g. job="api"; "" = every series'
    )
    node_selector: str = Field(
        "", description='label matchers of node_exporter\'s series, e.g. job="node"; "" = every node'
    )
    container_selector: str = Field(
        'name!=""', description='label matchers of cAdvisor\'s containers, e.g. name=~"api.*"'
    )
    range_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="how far back the queries look (at least the triage window; "
        "several scrape intervals, or increase() has too few samples)",
    )
    timeout_s: float = Field(
        5.0, gt=0, le=120, description="one query's timeout (also sent to Prometheus as timeout=)"
    )
    token_env: str = Field(
        "", description="name of the environment variable holding a bearer token (never the token)"
    )
    user: str = Field("", description='basic auth user; "" = none')
    password_env: str = Field(
        "", description="name of the environment variable holding the basic auth password"
    )
    max_series: int = Field(
        20000, ge=1, description="most series one query may return; more is cut, and said"
    )
    verify_tls: bool | str = Field(True, description="verify TLS certificates, or a CA bundle path")


class IncidentConfig(_Section):
    update_every_min: dict[str, float] = Field(
        default_factory=lambda: dict[str, float]({"P0": 15, "P1": 30, "P2": 60, "P3": 240}),
        description="an update is due this often, by severity (unclassified incidents use P2's)",
    )

    @field_validator("update_every_min")
    @classmethod
    def _severities(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(value) - {"P0", "P1", "P2", "P3"})
        if bad:
            raise ValueError(f"keys are P0, P1, P2, P3, not {', '.join(bad)}")
        if any(not 0 < v <= 10080 for v in value.values()):
            raise ValueError("minutes must be more than 0 and at most a week (10080)")
        return {**{"P0": 15, "P1": 30, "P2": 60, "P3": 240}, **value}


class EmailRoute(_Section):
    """Recipients of one event (detected, update, resolved …), replacing ``to`` / ``cc`` for it."""

    to: list[str] | None = Field(
        None, description="addresses in To for this event (default: [notify.email] to)"
    )
    cc: list[str] | None = Field(
        None, description="addresses in Cc for this event (default: [notify.email] cc)"
    )


class EmailConfig(_Section):
    """``[notify.email]``: the runbook's ``mail`` lines, sent over SMTP (internal audience)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    smtp_host: str = Field("", description='SMTP server; "" = no e-mail channel')
    smtp_port: int = Field(
        25, ge=1, le=65535, description="25 (plain / STARTTLS), 587 (submission), 465 (ssl)"
    )
    starttls: bool = Field(False, description="upgrade the connection with STARTTLS before logging in")
    ssl: bool = Field(False, description="TLS from the first byte (SMTPS, usually port 465)")
    ca_file: str = Field(
        "", description="CA bundle the server's certificate is verified with; \"\" = the system's"
    )
    user: str = Field("", description='login name; "" = no login')
    password_env: str = Field(
        "", description="name of the environment variable holding the password (never the password)"
    )
    sender: str = Field("perfbook@localhost", alias="from", description="the From address")
    to: list[str] = Field(default_factory=list, description="To addresses")
    cc: list[str] = Field(default_factory=list, description="Cc addresses")
    routes: dict[str, EmailRoute] = Field(
        default_factory=dict, description="per event: to / cc replacing the two above"
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="connect / command timeout of one attempt")

    @field_validator("routes")
    @classmethod
    def _events(cls, value: dict[str, EmailRoute]) -> dict[str, EmailRoute]:
        bad = sorted(set(value) - {"detected", "update", "resolved"})
        if bad:
            raise ValueError(f"routes are for detected, update, resolved, not {', '.join(bad)}")
        return value

    @field_validator("ssl")
    @classmethod
    def _one_tls(cls, value: bool, info: Any) -> bool:
        if value and info.data.get("starttls"):
            raise ValueError(
                "choose one: ssl (TLS from the first byte, port 465) or starttls (upgrade, port 587)"
            )
        return value

    def recipients(self, event: str) -> tuple[list[str], list[str]]:
        """(To, Cc) for ``event``: its route where it has one, else the defaults."""
        route = self.routes.get(event) or EmailRoute()
        return (self.to if route.to is None else route.to), (self.cc if route.cc is None else route.cc)


class NotifyConfig(_Section):
    """``[notify]``: where messages about an incident go, and how hard perfbook tries."""

    urls: list[str] = Field(
        default_factory=list, description="apprise URLs for the internal audience (chat, webhooks)"
    )
    external_urls: list[str] = Field(
        default_factory=list, description="apprise URLs that get only the external texts (status, customer)"
    )
    templates_dir: str = Field(
        "", description='a directory whose templates override the shipped ones; "" = shipped only'
    )
    attempts: int = Field(3, ge=1, le=10, description="tries per channel before a send is reported failed")
    backoff_s: float = Field(1.0, ge=0, le=60, description="wait before the 2nd try, doubled after each")
    service: str = Field("our service", description="what customers call the service, in external texts")
    team: str = Field("The operations team", description="who signs the customer notice")
    email: EmailConfig = Field(default_factory=EmailConfig)


class StatusComponent(_Section):
    """One component of the status page and what it stands for."""

    name: str = Field(description="what users call it, e.g. API")
    endpoints: list[str] = Field(
        default_factory=list, description="endpoint patterns (fnmatch), e.g. /api/v1/*"
    )
    layers: list[str] = Field(
        default_factory=list, description="layers: backend postgres redis websocket frontend host …"
    )


class StatusConfig(_Section):
    """``[status]``: the static status page ``perfbook status build`` writes."""

    dir: str = Field(
        "",
        description="where index.html, status.json, status.txt go; set, every incident change rebuilds them",
    )
    title: str = Field("Service status", description="the page's title")
    components: list[StatusComponent] = Field(
        default_factory=list, description="name + endpoints / layers; [] = one component for everything"
    )
    history_days: int = Field(90, ge=1, le=3650, description="days of past incidents the page lists")


class LoadConfig(_Section):
    cluster: str = Field(
        "",
        description='Dask scheduler for load / capacity --cluster, e.g. tcp://scheduler:8786; "" = this machine',
    )


class Thresholds(_Section):
    p95_s: float = Field(2.0, gt=0, description="KPI: p95 response time")
    severity_p0_s: float = Field(10.0, gt=0, description="P0 when the worst p95 is over this")
    severity_p1_s: float = Field(5.0, gt=0, description="P1 over this")
    severity_p2_s: float = Field(2.0, gt=0, description="P2 over this")
    severity_p3_s: float = Field(1.0, gt=0, description="P3 over this")
    error_rate: float = Field(0.01, ge=0, le=1, description="5xx share of requests in the window")
    throughput_rps: float = Field(
        1000.0, gt=0, description="KPI for load tests (--slo kpi), not judged by triage"
    )
    cpu_pct: float = Field(80.0, gt=0, le=100, description="host CPU; containers of their limit")
    memory_pct: float = Field(80.0, gt=0, le=100, description="host memory; containers of their limit")
    disk_pct: float = Field(85.0, gt=0, le=100, description="one mount")
    process_cpu_pct: float = Field(90.0, gt=0, description="one process's CPU, of one core, over the window")
    memory_growth_mb_per_min: float = Field(20.0, gt=0, description="RSS slope (>= 10 samples, R² >= 0.9)")
    log_file_mb: float = Field(1024.0, gt=0, description="one log file")
    ws_rtt_ms: float = Field(100.0, gt=0, description="WebSocket round trip p95")
    asset_s: float = Field(1.0, gt=0, description="slowest frontend asset")
    page_weight_mb: float = Field(5.0, gt=0, description="total page weight")
    db_query_mean_ms: float = Field(100.0, gt=0, description="mean statement time over the window")
    pg_cache_hit_ratio: float = Field(0.99, ge=0, le=1, description="PostgreSQL buffer cache hit ratio")
    seq_scan_share: float = Field(
        0.9, ge=0, le=1, description="share of reads by seq scan that means a missing index"
    )
    seq_scan_min_rows: int = Field(10000, ge=0, description="...on tables at least this large")
    cache_hit_rate: float = Field(
        0.90, ge=0, le=1, description="Redis hits / lookups over the window (>= 100 lookups)"
    )
    long_query_s: float = Field(
        300.0, gt=0, description="a running statement older than this (runbook: 5 minutes)"
    )
    idle_in_transaction_s: float = Field(
        60.0, gt=0, description="a session idle in a transaction longer than this"
    )
    dead_tuple_ratio: float = Field(0.20, ge=0, le=1, description="dead / (live + dead)")
    dead_tuple_min_rows: int = Field(1000, ge=0, description="...with at least this many dead tuples")
    connections_pct: float = Field(
        80.0, gt=0, le=100, description="of max_connections less the reserved ones"
    )
    redis_memory_pct: float = Field(
        90.0, gt=0, le=100, description="of maxmemory (of host memory when maxmemory is 0)"
    )
    redis_latency_ms: float = Field(10.0, gt=0, description="PING round trip p99 over the window")
    redis_fragmentation: float = Field(
        1.5, gt=1, description="mem_fragmentation_ratio (instances over 100 MB)"
    )
    redis_big_key_mb: float = Field(10.0, gt=0, description="one key")
    # saturation and errors (USE method), over the window
    cpu_psi_pct: float = Field(
        25.0, gt=0, le=100, description="PSI cpu some: share of the window tasks waited for CPU"
    )
    cpu_psi_critical_pct: float = Field(60.0, gt=0, le=100, description="...critical from this share")
    cpu_steal_pct: float = Field(10.0, gt=0, le=100, description="CPU steal, % of all cores over the window")
    memory_psi_pct: float = Field(
        10.0, gt=0, le=100, description="PSI memory some: share of the window stalled"
    )
    io_psi_pct: float = Field(
        30.0, gt=0, le=100, description="PSI io some: share of the window stalled on I/O"
    )
    io_psi_full_pct: float = Field(20.0, gt=0, le=100, description="PSI io full: critical from this share")
    disk_util_pct: float = Field(90.0, gt=0, le=100, description="a device busy this share of the window...")
    disk_await_ms: float = Field(
        50.0, gt=0, description="...with reads and writes taking this long on average"
    )
    fd_pct: float = Field(
        90.0, gt=0, le=100, description="a process's open files, of its soft limit (ulimit -n)"
    )
    tcp_retrans_share: float = Field(
        0.02, gt=0, le=1, description="retransmitted / sent TCP segments (>= 500 sent)"
    )
    link_pct: float = Field(90.0, gt=0, le=100, description="an interface's rate, of its link speed")
    close_wait_count: int = Field(100, gt=0, description="sockets in CLOSE_WAIT on this machine")
    ephemeral_ports_pct: float = Field(80.0, gt=0, le=100, description="of the ephemeral port range in use")
    conntrack_pct: float = Field(
        80.0, gt=0, le=100, description="of nf_conntrack_max in use (critical at 95 %)"
    )
    connect_ms: float = Field(
        100.0, gt=0, description="TCP connect time to a dependency, p95 over the window"
    )
    throttled_share: float = Field(
        0.25, gt=0, le=1, description="a container's CFS periods throttled by its quota"
    )
    pgbouncer_maxwait_s: float = Field(
        1.0,
        gt=0,
        description="PgBouncer: the oldest waiting client's wait "
        "(maxwait) when clients wait through the window",
    )


class AlertRuleConfig(_Section):
    """One ``[[alerts.rules]]`` table. A rule named like a built-in replaces it; keys left out keep its values."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    name: str = Field(description="alert name, e.g. HighResponseTime (letters, digits, _)")
    when: str | None = Field(
        None, description="'p95_s > 2', 'error_rate > 0.01', 'cache_hit_rate < 0.9' or 'finding CODE'"
    )
    for_: str | None = Field(
        None, alias="for", description="how long the condition holds before firing, e.g. 2m"
    )
    keep_firing_for: str | None = Field(
        None, description="how long it keeps firing after the condition stops"
    )
    severity: str | None = Field(None, description="critical | warning | info")
    summary: str | None = Field(
        None, description="template with {value} {threshold} {subject} {rule} {severity}"
    )
    description: str | None = Field(None, description="longer template, same placeholders")
    runbook_url: str | None = Field(None, description="link sent with the alert")
    enabled: bool = Field(True, description="false turns a built-in rule off")

    @model_validator(mode="after")
    def _check(self) -> AlertRuleConfig:
        from perfbook.alerts.validate import check_rule  # lazy: perfbook.alerts reads this module

        check_rule(self)
        return self


class AlertsConfig(_Section):
    """``[alerts]``: the rules (built-ins plus ``[[alerts.rules]]``), notification pacing, export settings."""

    repeat_interval: str = Field(
        "4h", description="notify again while an alert keeps firing, every this long"
    )
    runbook_base_url: str = Field(
        "docs/alerts.md",
        description="where your team reads docs/alerts.md; "
        "built-in rules link to its sections (RULE lower-cased as the anchor)",
    )
    prometheus_selector: str = Field(
        "", description='label matchers of the app\'s series in exported rules, e.g. job="api"'
    )
    prometheus_range: str = Field("5m", description="the rate() window of exported rules")
    duration_histogram: str = Field(
        "http_request_duration_seconds",
        description="the app's request "
        "duration histogram in exported rules (flask: flask_http_request_duration_seconds)",
    )
    requests_counter: str = Field(
        "http_requests_total",
        description="the app's request counter with a status label "
        "(express-prom-bundle: http_request_duration_seconds_count)",
    )
    container_selector: str = Field(
        'name!=""',
        description="cAdvisor label matchers of the containers "
        'that matter in exported rules, e.g. name="api"',
    )
    serve_url: str = Field(
        "http://127.0.0.1:8080",
        description="perfbook serve, where Alertmanager posts (alerts export --alertmanager)",
    )
    # Last, so the sample's commented [[alerts.rules]] tables end the file and own no other key.
    rules: list[AlertRuleConfig] = Field(
        default_factory=list,
        description="rules of your own, or built-ins replaced by name: one table each, as below",
        json_schema_extra={"sample": _ALERT_RULE_SAMPLE},
    )

    @field_validator("*")
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        from perfbook.alerts.validate import check_alerts_key  # lazy: perfbook.alerts reads this module

        check_alerts_key(info.field_name or "", value)
        return value


class WatchConfig(_Section):
    """``[watch]``: how often ``perfbook watch`` triages, what it keeps, and what firing alerts do."""

    interval: str = Field("30s", description="time between the starts of two runs (--interval)")
    window: str = Field(
        "", description='each run\'s triage window; "" = [triage] window_s (kept below the interval)'
    )
    expensive_probes: list[str] = Field(
        default_factory=lambda: ["postgres", "containers"],
        description="probes run only every expensive_every-th run (statements, container stats, key scans)",
    )
    expensive_every: int = Field(
        10, ge=1, le=10000, description="run the expensive probes every this many runs (1 = every run)"
    )
    raw_retention: str = Field("24h", description="how long raw KPI samples and runs are kept")
    aggregate_retention: str = Field(
        "720h", description="how long the 5-minute aggregates are kept (30 days)"
    )
    report_every: str = Field(
        "1h",
        description="store the triage as a watch report when it changes, "
        "else at least this often (the dashboard's latest triage)",
    )
    open_incidents: bool = Field(
        False,
        description="a firing critical alert opens an incident (or attaches "
        "to the open one of its rule and subject); resolving it notes so",
    )
    metrics_listen: str = Field(
        "", description='HOST:PORT serving perfbook\'s own /metrics (--metrics-listen); "" = none'
    )

    @field_validator("interval", "raw_retention", "aggregate_retention", "report_every")
    @classmethod
    def _positive(cls, value: str) -> str:
        from perfbook.units import parse_duration

        if parse_duration(value) <= 0:
            raise ValueError(f"must be a duration over 0, got {value!r}")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        from perfbook.units import parse_duration

        if value and parse_duration(value) <= 0:
            raise ValueError(f'must be a duration over 0 (or ""), got {value!r}')
        return value


class Config(_Section):
    """The whole effective configuration. Build it with :func:`load_config`."""

    http: HttpConfig = Field(default_factory=HttpConfig)
    frontend: FrontendConfig = Field(default_factory=FrontendConfig)
    websocket: WebsocketConfig = Field(default_factory=WebsocketConfig)
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    pgbouncer: PgbouncerConfig = Field(default_factory=PgbouncerConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    containers: ContainersConfig = Field(default_factory=ContainersConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    process: ProcessConfig = Field(default_factory=ProcessConfig)
    triage: TriageConfig = Field(default_factory=TriageConfig)
    fix: FixConfig = Field(default_factory=FixConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)  # last: its sample ends with [[alerts.rules]]

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _path: Path | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """The file this config was read from, or None for built-in defaults."""
        return self._path

    def source_of(self, dotted: str) -> str:
        """Where ``section.key`` came from: ``default``, ``file PATH``, ``env VAR`` or ``flag --x``."""
        return self._sources.get(dotted, "default")


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> Config:
    """Read the effective config: defaults < ``path`` (or ./perfbook.toml) < env < overrides.

    ``overrides`` maps ``section.key`` to ``(value, "--flag")`` from the command line.
    Raises ConfigError (one line: file, line, key, what is allowed) on any bad input, including
    values that mean nothing (see :mod:`perfbook.config_checks`).
    """
    env = os.environ if env is None else env
    if path is None and DEFAULT_PATH.is_file():
        path = DEFAULT_PATH
    data, sources, file_text, referenced = (
        _file_sections(path, env) if path is not None else ({}, {}, "", set())
    )
    problem = config_checks.env_problem(env, env_names(), referenced)
    if problem:
        raise ConfigError(problem[1], hint=problem[2])
    for var, value in sorted(env.items()):
        dotted = _env_key(var)
        if dotted:
            section, key = dotted.split(".", 1)
            data.setdefault(section, {})[key] = _env_value(section, key, value)
            sources[dotted] = f"env {var}"
    for dotted, (value, flag) in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        data.setdefault(section, {})[key] = value
        sources[dotted] = f"flag {flag}"
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_explain(err, sources, path, file_text)) from None
    for keys, what, hint in config_checks.meaning_problems(cfg)[:1]:
        dotted = next((k for k in keys.split("|") if k in sources), keys.split("|")[0])
        raise ConfigError(_located(dotted, what, sources, path, file_text), hint=hint)
    cfg._sources = sources
    cfg._path = path
    return cfg


def _file_sections(
    path: Path, env: Mapping[str, str]
) -> tuple[dict[str, dict[str, Any]], dict[str, str], str, set[str]]:
    """The file's sections with ``${NAME}`` expanded, their sources, its text, the names it refers to."""
    file_text = _read_file(path)
    try:
        parsed = tomllib.loads(file_text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    lookup = dict(env)
    env_file = parsed.pop("env_file", None)
    if env_file is not None:
        if not isinstance(env_file, str):
            raise ConfigError(f"{path}:{_line_of(file_text, 'env_file', None)}: env_file must be a path")
        lookup = {**config_checks.read_env_file(path.parent / Path(env_file).expanduser()), **lookup}
    data: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    referenced: set[str] = set()
    for section, table in parsed.items():
        if not isinstance(table, dict) or section not in Config.model_fields:
            allowed = ", ".join(Config.model_fields)
            raise ConfigError(
                f"{path}:{_line_of(file_text, section, None)}: unknown section [{section}] (allowed: {allowed})"
            )
        referenced |= set(config_checks.references(table))
        data[section] = {}
        for key, value in table.items():
            try:
                data[section][key] = config_checks.expand(value, lookup, f"{section}.{key}")
            except ConfigError as err:
                raise ConfigError(
                    f"{path}:{_line_of(file_text, section, key)}: {err}", hint=err.hint
                ) from None
        sources.update({f"{section}.{k}": f"file {path}" for k in table})
    return data, sources, file_text, referenced


def env_names() -> list[str]:
    """Every ``PERFBOOK_<SECTION>_<KEY>`` variable that sets a key."""
    return [
        f"{ENV_PREFIX}{section}_{key}".upper()
        for section, info in Config.model_fields.items()
        for key in info.annotation.model_fields  # type: ignore[union-attr]
    ]


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found", hint="create one with: perfbook config init"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config file: {err}") from None


def _env_key(var: str) -> str | None:
    """``PERFBOOK_THRESHOLDS_P95_S`` -> ``thresholds.p95_s`` when that key exists, else None."""
    if not var.startswith(ENV_PREFIX):
        return None
    rest = var[len(ENV_PREFIX) :].lower()
    section, _, key = rest.partition("_")
    model = Config.model_fields.get(section)
    if model is None or key not in model.annotation.model_fields:  # type: ignore[union-attr]
        return None
    return f"{section}.{key}"


def _env_value(section: str, key: str, value: str) -> Any:
    """Lists come comma-separated from the environment; everything else as pydantic parses strings."""
    field = Config.model_fields[section].annotation.model_fields[key]  # type: ignore[union-attr]
    if "list" in str(field.annotation):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _explain(err: ValidationError, sources: dict[str, str], path: Path | None, text: str) -> str:
    # In a union (endpoints: str | table) the deepest error is the one that names the real problem.
    first = max(err.errors(), key=lambda e: len(e["loc"]))
    index = next((p for p in first["loc"] if isinstance(p, int)), None)  # which [[table]] of an array
    loc = [str(p) for p in first["loc"] if not isinstance(p, int)]
    loc = [p for p in loc if p not in {"str", "Endpoint", "function-after[...]"}]
    dotted = ".".join(loc[:2])
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(f.alias or k for k, f in _model_at(loc[:-1]).model_fields.items())
        what = f"unknown key {'.'.join(loc)} (allowed: {allowed})"
    elif first["type"] == "value_error":  # perfbook's own checks: the message names value and what is allowed
        what = redact_url(f"{'.'.join(loc)}: {first['ctx']['error']}")
    else:  # the value may be a DSN: redacted like every other output
        what = f"{'.'.join(loc)}: {first['msg'].lower()}, got {redact_url(repr(first.get('input')))}"
    return _located(dotted, what, sources, path, text, index)


def _located(
    dotted: str, what: str, sources: dict[str, str], path: Path | None, text: str, index: int | None = None
) -> str:
    """``what`` prefixed with where ``dotted`` came from: ``perfbook.toml:14:``, ``PERFBOOK_X:``, ``--url:``."""
    section = dotted.partition(".")[0]
    where = sources.get(dotted, "") or sources.get(section, "")
    if where.startswith("file") and path is not None:
        section, _, key = dotted.partition(".")
        return f"{path}:{_line_of(text, section, key or None, index)}: {what}"
    if where.startswith(("env", "flag")):
        return f"{where.split(' ', 1)[1]}: {what}"
    return what


def _model_at(loc: list[str]) -> type[BaseModel]:
    """The model a config path leads to: ``["alerts", "rules"]`` -> AlertRuleConfig."""
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part)
        if field is None:
            break
        inner = next(
            (
                a
                for a in (field.annotation, *getattr(field.annotation, "__args__", ()))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        if inner is None:
            break
        model = inner
    return model


def _line_of(text: str, section: str, key: str | None, index: int | None = None) -> int:
    """Best-effort 1-based line of ``[section]`` / ``key =`` inside it (tomllib keeps no positions).

    With ``index``, the index-th ``[[section.key]]`` table of an array (``[[alerts.rules]]``).
    """
    lines = text.splitlines()
    if key and index is not None:
        table = re.compile(rf"^\s*\[\[\s*{re.escape(section)}\.{re.escape(key)}\s*\]\]")
        starts = [i for i, line in enumerate(lines) if table.match(line)]
        if index < len(starts):
            return starts[index] + 1
    start = 0
    header = re.compile(rf"^\s*\[\[?\s*{re.escape(section)}(\.|\s*\])")
    for i, line in enumerate(lines):
        if header.match(line):
            start = i
            if key is None:
                return i + 1
            break
    pattern = re.compile(rf"^\s*{re.escape(key or '')}\s*=")
    for i in range(start, len(lines)):
        if key and pattern.match(lines[i]):
            return i + 1
    return start + 1


def effective_items(cfg: Config) -> list[tuple[str, Any, str]]:
    """Every ``(section.key, value, source)`` with secrets redacted, for ``perfbook config show``."""
    rows = []
    for section in Config.model_fields:
        values = getattr(cfg, section).model_dump(mode="json", by_alias=True)
        for key, value in values.items():
            dotted = f"{section}.{key}"
            shown = [redact_notify_url(v) for v in value] if dotted in NOTIFY_URL_KEYS else _redacted(value)
            rows.append((dotted, shown, cfg.source_of(dotted)))
    return rows


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value
