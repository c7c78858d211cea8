"""The triage engine's guarantees: budgets, failures turned into evidence, exit codes, the JSON contract."""

from __future__ import annotations

import asyncio
import time

import pytest

from perfbook.cli.exit import ExitCode
from perfbook.cli.triage_cmd import exit_code_for
from perfbook.codes import finding
from perfbook.config import Config, load_config
from perfbook.model import Kpis, Report, Severity
from perfbook.probes.base import ProbeContext, ProbeSkipped, ProbeUnavailable, run_probe
from perfbook.report.json import report_to_dict, validate_report
from perfbook.triage import configured_skip, is_local_host, issue_types, triage


class _Probe:
    name = "redis"

    def __init__(self, behaviour):
        self.behaviour = behaviour

    async def collect(self, ctx):
        return await self.behaviour(ctx)


def ctx(window_s: float = 0.1) -> ProbeContext:
    return ProbeContext(config=Config(), window_s=window_s, deadline=time.monotonic() + 5)


@pytest.mark.parametrize(
    "behaviour, status, reason",
    [
        (
            lambda c: _raise(ProbeUnavailable("connection refused 127.0.0.1:6379")),
            "unavailable",
            "connection refused",
        ),
        (lambda c: _raise(ProbeSkipped("no [redis] url")), "skipped", "no [redis] url"),
        (lambda c: _raise(KeyError("oops")), "error", "KeyError"),
        (lambda c: _raise(RuntimeError("redis://:hunter2@h:1/0 broke")), "error", "redis://:***@h:1/0"),
        (lambda c: asyncio.sleep(10), "unavailable", "no answer within 0.2 s"),
    ],
)
def test_run_probe_always_returns_evidence(behaviour, status, reason):
    started = time.monotonic()
    ev = asyncio.run(run_probe(_Probe(behaviour), ctx(), budget_s=0.2))
    assert ev.status == status and reason in ev.reason
    assert time.monotonic() - started < 1.0
    assert "hunter2" not in ev.reason


async def _raise(err: Exception):
    raise err


def _report(severity, *findings) -> Report:
    return Report(
        "2026-11-27T10:00:00Z",
        2.1,
        2.0,
        {"host": "this machine (x)", "sources": {}},
        severity,
        "why",
        issue_types(list(findings)),
        Kpis(),
        list(findings),
        {},
    )


@pytest.mark.parametrize(
    "severity, fail_on, expected",
    [
        (Severity.P2, "P2", ExitCode.THRESHOLD),
        (Severity.P3, "P2", ExitCode.OK),
        (Severity.P0, "never", ExitCode.OK),
        (Severity.OK, "P3", ExitCode.OK),
        (Severity.P1, "P0", ExitCode.OK),
        (Severity.P0, "P0", ExitCode.THRESHOLD),
    ],
)
def test_fail_on_severity_cut(severity, fail_on, expected):
    assert exit_code_for(_report(severity), fail_on) is expected


def test_null_severity_falls_back_to_critical_and_levels_cut():
    crit = finding("pg.blocked_queries", "pid 42", "blocked")
    warn = finding("pg.dead_tuples", "public.t", "dead")
    assert exit_code_for(_report(None, crit), "P2") is ExitCode.THRESHOLD
    assert exit_code_for(_report(None, warn), "P2") is ExitCode.OK
    assert exit_code_for(_report(Severity.OK, warn), "warning") is ExitCode.THRESHOLD
    assert exit_code_for(_report(Severity.OK, warn), "critical") is ExitCode.OK


def test_report_with_findings_validates_and_sorts_worst_first():
    info = finding("pg.unused_index", "public.t_idx", "unused")
    crit = finding("pg.blocked_queries", "pid 42", "blocked", value=3, unit="sessions")
    doc = report_to_dict(_report(Severity.P2, crit, info))
    validate_report(doc)
    assert doc["issue_types"] == ["database"]


def test_configured_skips_and_remote_targets():
    cfg = load_config(env={"PERFBOOK_HTTP_BASE_URL": "https://api.example.com"})
    assert configured_skip("postgres", cfg, local=True) == "no [postgres] dsn"
    assert "remote target" in configured_skip("host", cfg, local=False)
    assert is_local_host("127.0.0.1") and is_local_host("localhost") and not is_local_host("api.example.com")


def test_triage_with_nothing_reachable_ends_fast_and_validates():
    cfg = load_config(env={"PERFBOOK_HTTP_BASE_URL": "http://127.0.0.1:9", "PERFBOOK_FRONTEND_URL": ""})
    started = time.monotonic()
    report = triage(cfg, window_s=0.3, only=["http", "metrics", "postgres"])
    assert time.monotonic() - started < 0.3 + cfg.http.timeout_s + 1
    validate_report(report_to_dict(report))
    assert report.probes["postgres"].status == "skipped"


def test_kpi_from_few_samples_is_shown_with_its_count_not_judged():
    from perfbook.config import Thresholds
    from perfbook.report.kpi import kpi_rows

    rows = {r.name: r for r in kpi_rows(Kpis(cache_hit_rate=0.5, cache_lookups=42), Thresholds())}
    assert rows["cache hit rate"].status == "few samples" and "of 42 lookups" in rows["cache hit rate"].value
    rows = {r.name: r for r in kpi_rows(Kpis(cache_hit_rate=0.5, cache_lookups=400), Thresholds())}
    assert rows["cache hit rate"].status == "fail"


def test_a_probe_whose_extra_is_missing_is_skipped_with_the_extra_to_install(monkeypatch):
    """No docker SDK (a core install without extras): containers is skipped and says which extra."""
    monkeypatch.setitem(__import__("sys").modules, "docker", None)  # import docker -> ModuleNotFoundError
    report = triage(load_config(env={}), window_s=0.1, only=["containers"])
    ev = report.probes["containers"]
    assert ev.status == "skipped" and "pip install 'perfbook[docker]'" in ev.reason
