"""Evidence builders for the cause-ranking tests (imported by the tests as ``causes_stack``): a healthy
lab-shaped stack, and knobs to break it.

Findings come from the real rules over this evidence (never hand-written), so a test exercises
the same finding shapes triage produces; ``rank`` returns (findings, causes).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from perfbook.config import Config
from perfbook.evidence.host import CpuStats, HostEvidence, MemoryStats, TopProcess
from perfbook.evidence.http import EndpointTiming, HealthCheck, HttpEvidence
from perfbook.evidence.metrics import HandlerWindow, MetricsEvidence
from perfbook.evidence.postgres import (
    PgConnections,
    PgServer,
    PgSession,
    PgStatement,
    PgStatStatements,
    PgTable,
    PostgresEvidence,
)
from perfbook.evidence.process import ProcessEvidence, WatchedProcess
from perfbook.evidence.redis import RedisEvidence, RedisLatency, RedisMemory, RedisWindow
from perfbook.model import Action, Cause, Evidence, Finding, IssueType, Level, from_jsonable, sort_findings
from perfbook.probes import rule_modules

BASE = "http://127.0.0.1:8001"
WINDOW_S = 2.0
MB = 1024 * 1024


def timing(
    path: str, p95_s: float = 0.02, requests: int = 5, statuses: dict[str, int] | None = None
) -> EndpointTiming:
    return EndpointTiming(
        path=path,
        method="GET",
        url=BASE + path,
        requests=requests,
        p50_s=p95_s / 2,
        p95_s=p95_s,
        max_s=p95_s,
        statuses=statuses or {"200": requests},
    )


def handler(
    path: str, p95_s: float = 0.02, requests: int = 80, errors_5xx: int = 0, method: str = "GET"
) -> HandlerWindow:
    return HandlerWindow(
        handler=path,
        method=method,
        requests=requests,
        rate_rps=requests / WINDOW_S,
        p50_s=p95_s / 2,
        p95_s=p95_s,
        p99_s=p95_s,
        errors_5xx=errors_5xx,
        error_share=errors_5xx / requests,
    )


def http_ev(*timings: EndpointTiming) -> Evidence:
    timings = timings or (timing("/api/v1/users"), timing("/api/v1/agents"))
    health = HealthCheck(url=BASE + "/health", ok=True, status=200, duration_s=0.003)
    return Evidence("http", "ok", 2.1, data=HttpEvidence(BASE, True, health, list(timings)))


def metrics_ev(*handlers: HandlerWindow) -> Evidence:
    handlers = handlers or (handler("/api/v1/users"), handler("/api/v1/agents"))
    requests = sum(h.requests for h in handlers)
    errors = sum(h.errors_5xx for h in handlers)
    total = HandlerWindow(
        "*", None, requests, requests / WINDOW_S, errors_5xx=errors, error_share=errors / requests
    )
    return Evidence(
        "metrics", "ok", 2.0, data=MetricsEvidence(BASE + "/metrics", WINDOW_S, list(handlers), total)
    )


def statement(
    query: str,
    mean_ms: float = 0.4,
    calls: int = 60,
    tables: list[str] | None = None,
    filter_columns: list[str] | None = None,
    queryid: int = 1,
) -> PgStatement:
    return PgStatement(
        queryid=queryid,
        query=query,
        user="codexos",
        calls=calls,
        total_ms=mean_ms * calls,
        mean_ms=mean_ms,
        rows=calls,
        shared_blks_hit=calls * 4,
        shared_blks_read=0,
        tables=tables or [],
        filter_columns=filter_columns or [],
    )


USERS_BY_EMAIL = statement(
    "SELECT id, name, email FROM users WHERE email = $1",
    tables=["public.users"],
    filter_columns=["email"],
    queryid=11,
)
USERS_PAGE = statement(
    "SELECT id, name, email FROM users ORDER BY id LIMIT $1 OFFSET $2", tables=["public.users"], queryid=12
)
AGENTS_PAGE = statement(
    "SELECT id, name, owner_id, status FROM agents ORDER BY id LIMIT $1", tables=["public.agents"], queryid=13
)


def table(name: str, rows: int, **kw: Any) -> PgTable:
    base = dict(
        name=name,
        rows=rows,
        dead_rows=0,
        dead_ratio=0.0,
        seq_scan=3,
        seq_tup_read=rows * 3,
        idx_scan=5000,
        seq_scan_window=0,
        idx_scan_window=120,
        seq_tup_read_window=0,
        total_bytes=rows * 120,
        index_bytes=rows * 40,
        heap_hit_ratio=0.999,
        mod_since_analyze=0,
        last_autoanalyze="2026-11-27T09:00:00Z",
        columns=["id", "name", "email"],
        indexed_columns=[["id"], ["email"]],
    )
    base.update(kw, heap_bytes=rows * 80)
    known = {f.name for f in dataclasses.fields(PgTable)}  # the probe's contract grows: build what it has
    return PgTable(**{k: v for k, v in base.items() if k in known})


def session(
    pid: int,
    state: str,
    query: str,
    application: str = "perfbook-lab",
    age_s: float = 0.1,
    xact_age_s: float | None = None,
) -> PgSession:
    return PgSession(
        pid=pid,
        user="codexos",
        application=application,
        client="127.0.0.1",
        state=state,
        query=query,
        query_age_s=age_s,
        state_age_s=age_s,
        xact_age_s=xact_age_s if xact_age_s is not None else age_s,
        backend_type="client backend",
        database="codexos_db",
    )


def pg_data(**kw: Any) -> PostgresEvidence:
    stmts = kw.pop("statements", [USERS_BY_EMAIL, USERS_PAGE, AGENTS_PAGE])
    window_calls = sum(s.calls for s in stmts)
    window_ms = sum(s.total_ms for s in stmts)
    st = PgStatStatements(
        "ok",
        mean_column="mean_exec_time",
        window_calls=window_calls,
        window_total_ms=window_ms,
        window_mean_ms=window_ms / window_calls if window_calls else None,
        top_by_mean=sorted(stmts, key=lambda s: -(s.mean_ms or 0)),
        top_by_total=sorted(stmts, key=lambda s: -s.total_ms),
    )
    data = PostgresEvidence(
        dsn="postgresql://codexos@127.0.0.1:5432/codexos_db",
        own_pid=99,
        server=PgServer("15.8", 150008, 3600.0, "codexos_db", stats_age_s=3600.0),
        statements=st,
        connections=PgConnections(
            total=12,
            max_connections=100,
            reserved=3,
            usable=97,
            used_pct=12.4,
            by_state={"idle": 10, "active": 2},
            by_application={"perfbook-lab": 12},
        ),
        tables=[
            table("public.users", 200_000),
            table(
                "public.agents",
                5_000,
                columns=["id", "name", "owner_id", "status"],
                indexed_columns=[["id"], ["owner_id"], ["status"]],
            ),
        ],
    )
    for key, value in kw.items():
        setattr(data, key, value)
    return data


def redis_data(
    hits: int = 950,
    misses: int = 50,
    oom: int = 0,
    used_pct: float = 20.0,
    policy: str = "allkeys-lru",
    maxmemory: int = 64 * MB,
) -> RedisEvidence:
    mem = RedisMemory(
        used_bytes=int(maxmemory * used_pct / 100),
        peak_bytes=maxmemory // 2,
        rss_bytes=20 * MB,
        fragmentation_ratio=1.1,
        maxmemory_bytes=maxmemory,
        policy=policy,
        system_bytes=8000 * MB,
        used_pct=used_pct,
        used_pct_of="maxmemory",
    )
    lookups = hits + misses
    window = RedisWindow(
        WINDOW_S,
        hits,
        misses,
        lookups,
        hits / lookups if lookups else None,
        0,
        0,
        0,
        oom,
        oom,
        500,
        {"OOM": oom} if oom else {},
    )
    return RedisEvidence(
        url="redis://127.0.0.1:6379/0",
        version="7.0.15",
        uptime_s=3600,
        role="master",
        memory=mem,
        window=window,
        latency=RedisLatency(20, 0.1, 0.2, 0.4, 0.5),
        connected_clients=4,
        blocked_clients=0,
        maxclients=10000,
        oom_errors_total=oom,
        evicted_keys_total=0,
    )


def backend(pid: int = 4242, cpu_pct: float = 3.0, rss_mb: list[float] | None = None) -> WatchedProcess:
    rss = rss_mb or [80.0] * 12
    return WatchedProcess(
        pid=pid,
        name="python3",
        cmdline="pblab-backend worker",
        matched_by="child of 4240",
        cpu_pct=cpu_pct,
        rss_bytes=int(rss[-1] * MB),
        sample_t_s=[i * WINDOW_S / (len(rss) - 1) for i in range(len(rss))],
        sample_rss_bytes=[int(r * MB) for r in rss],
    )


def process_ev(*procs: WatchedProcess) -> Evidence:
    data = ProcessEvidence(
        patterns=["pblab-backend"], pids=[], window_s=WINDOW_S, processes=list(procs) or [backend()]
    )
    return Evidence("process", "ok", 2.0, data=data)


def host_ev(busy_pct: float = 20.0, top: list[TopProcess] | None = None, swap_in_mb: float = 0.0) -> Evidence:
    cpu = CpuStats(
        cores=2,
        samples=10,
        busy_pct=busy_pct,
        max_interval_pct=busy_pct,
        per_core_pct=[busy_pct] * 2,
        load_1m=0.4,
        load_5m=0.4,
        load_15m=0.4,
    )
    mem = MemoryStats(
        total_bytes=8000 * MB,
        available_bytes=5000 * MB,
        used_pct=37.5,
        swap_total_bytes=2000 * MB,
        swap_used_bytes=int(swap_in_mb * MB),
        swap_in_bytes=int(swap_in_mb * MB),
        swap_out_bytes=0,
    )
    data = HostEvidence(hostname="web-1", window_s=WINDOW_S, cpu=cpu, memory=mem, top_cpu=top or [])
    return Evidence("host", "ok", 2.0, data=data)


def other_process(pid: int = 777, cpu_pct: float = 180.0) -> TopProcess:
    return TopProcess(
        pid=pid,
        name="ffmpeg",
        cmdline="ffmpeg -i in.mp4 out.webm",
        cpu_pct=cpu_pct,
        rss_bytes=300 * MB,
        memory_pct=3.7,
        matched_by=None,
        own=False,
    )


def healthy() -> dict[str, Evidence]:
    """A healthy lab-shaped stack: every probe ok, nothing over any threshold."""
    return {
        "http": http_ev(),
        "metrics": metrics_ev(),
        "postgres": Evidence("postgres", "ok", 0.4, data=pg_data()),
        "redis": Evidence("redis", "ok", 2.0, data=redis_data()),
        "process": process_ev(),
        "host": host_ev(),
    }


def findings_of(evidence: dict[str, Evidence], cfg: Config) -> list[Finding]:
    """The real rules over ``evidence`` (as triage applies them)."""
    out: list[Finding] = []
    for module in rule_modules():
        out += module.evaluate(evidence, cfg)
    return sort_findings(out)


def with_pg(evidence: dict[str, Evidence], **kw: Any) -> dict[str, Evidence]:
    """A copy of ``evidence`` whose postgres data has ``kw`` replaced."""
    data = pg_data(**kw)
    return {**evidence, "postgres": replace(evidence["postgres"], data=data)}


def keys(cause: Cause) -> set[str]:
    return set(cause.findings)


# Recorded lab reports (tests/fixtures/causes/lab_*.json) -> findings and typed evidence ----------

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "causes"
DATA_CLASSES = {
    "http": HttpEvidence,
    "metrics": MetricsEvidence,
    "postgres": PostgresEvidence,
    "redis": RedisEvidence,
    "host": HostEvidence,
    "process": ProcessEvidence,
}


def recorded_report(name: str) -> tuple[list[Finding], dict[str, Evidence]]:
    """The findings and evidence of a recorded ``perfbook triage --json`` of the lab."""
    doc = json.loads((RECORDED / f"lab_{name}.json").read_text())
    evidence = {}
    for probe, raw in doc["probes"].items():
        cls = DATA_CLASSES.get(probe)
        data = from_jsonable(cls, raw.get("evidence")) if cls is not None else None
        evidence[probe] = Evidence(probe, raw["status"], raw["duration_s"], raw.get("reason"), data)
    findings = [
        Finding(
            code=f["code"],
            level=Level(f["level"]),
            issue_type=IssueType(f["issue_type"]),
            subject=f["subject"],
            title=f["title"],
            value=f["value"],
            threshold=f["threshold"],
            unit=f["unit"],
            evidence=f["evidence"],
            actions=tuple(Action(**a) for a in f["actions"]),
            low_confidence=f["low_confidence"],
        )
        for f in doc["findings"]
    ]
    return findings, evidence
