"""Incident ids, statuses, severities, figures and reminders (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from perfbook.errors import UsageError
from perfbook.incidents.figures import affected_from, figures_for, summary_for
from perfbook.incidents.model import (
    Impact,
    Incident,
    Status,
    check_status_change,
    parse_id,
    parse_status,
    raises,
)
from perfbook.incidents.reminders import due_at, overdue_s


@pytest.mark.parametrize(("text", "number"), [("INC-7", 7), ("inc-7", 7), ("7", 7), (" INC-12 ", 12)])
def test_ids_people_type(text: str, number: int) -> None:
    assert parse_id(text) == number


@pytest.mark.parametrize("text", ["INC-", "INC-0", "seven", "INC-7x", "-3", ""])
def test_bad_ids(text: str) -> None:
    with pytest.raises(UsageError, match="not an incident id"):
        parse_id(text)


def test_status_machine() -> None:
    with pytest.raises(UsageError, match="resolve ID"):
        parse_status("resolved")
    with pytest.raises(UsageError, match="must be one of investigating, identified, monitoring"):
        parse_status("fixed")
    check_status_change(Status.MONITORING, Status.INVESTIGATING)  # a fix that did not hold
    with pytest.raises(UsageError, match="already identified"):
        check_status_change(Status.IDENTIFIED, Status.IDENTIFIED)
    with pytest.raises(UsageError, match="is resolved") as err:
        check_status_change(Status.RESOLVED, Status.MONITORING)
    assert "reopen" in (err.value.hint or "")


def test_only_a_worse_severity_raises() -> None:
    assert raises("P1", "P2") and raises("P3", None)
    assert not raises("P2", "P1") and not raises("OK", "P3") and not raises(None, None)


REPORT = {
    "severity": "P2",
    "kpis": {"p95_s": 4.1, "p95_subject": "/api/v1/users", "error_rate": 0.004},
    "causes": [{"summary": "users API scans public.users"}],
    "findings": [
        {"code": "http.slow_response", "level": "critical", "subject": "/api/v1/users"},
        {"code": "pg.missing_index", "level": "critical", "subject": "public.users"},
        {"code": "pg.unused_index", "level": "info", "subject": "public.x_idx"},
    ],
}


def test_triage_figures_and_affected() -> None:
    figures = figures_for("triage", REPORT)
    assert summary_for("triage", figures) == (
        "P2, p95 4.10 s on /api/v1/users, 5xx 0.4 %, top cause: users API scans public.users"
    )
    assert affected_from(REPORT) == (["/api/v1/users"], ["backend", "postgres"])


def test_fix_and_capacity_figures() -> None:
    doc = {
        "action": "pg.terminate",
        "outcome": {"status": "done", "figures": {}},
        "verify": {
            "findings": [{"finding": "pg.blocked_queries:public.t", "before": 7, "after": "absent"}],
            "kpis": {"p95_s": {"before": 4.2, "after": 0.31}},
        },
    }
    figures = figures_for("fix", doc)
    assert (figures["action"], figures["outcome"], figures["p95_s"]) == ("pg.terminate", "done", 0.31)
    assert summary_for("fix", figures).startswith("pg.terminate done (pg.blocked_queries:public.t 7 → absent")
    cap = figures_for("capacity", {"knee_rps": 420.0, "slo": ["p95<200ms"], "reason": "x"})
    assert summary_for("capacity", cap) == "knee at 420 rps (p95<200ms)"


def _incident(severity: str | None, last: str, status: Status = Status.INVESTIGATING) -> Incident:
    return Incident(1, "t", status, severity, Impact.MINOR, "ana", last, last, last)


def test_reminders_by_severity() -> None:
    every = {"P0": 15, "P1": 30, "P2": 60, "P3": 240}
    assert due_at("2026-12-01T10:00:00Z", "P3", every) == "2026-12-01T14:00:00Z"
    assert due_at("2026-12-01T10:00:00Z", None, every) == "2026-12-01T11:00:00Z"  # unclassified: as P2
    now = dt.datetime(2026, 12, 1, 10, 20, tzinfo=dt.UTC)
    assert overdue_s(_incident("P0", "2026-12-01T10:00:00Z"), now, every) == 300
    assert overdue_s(_incident("P1", "2026-12-01T10:00:00Z"), now, every) is None
    assert overdue_s(_incident("P0", "2026-12-01T10:00:00Z", Status.RESOLVED), now, every) is None


def test_failing_kpis_name_each_kpi_with_its_target() -> None:
    from perfbook.incidents.figures import failing_kpis

    limits = {"p95_s": 2.0, "error_rate": 0.01, "cpu_pct": 80.0, "cache_hit_rate": 0.9}
    report = {
        "kpis": {
            "p95_s": 3.2,
            "p95_subject": "/api/v1/agents",
            "error_rate": 0.3,
            "error_requests": 5,
            "cpu_pct": 40.0,
            "cache_hit_rate": 0.5,
            "cache_lookups": 1000,
        },
        "findings": [
            {"code": "pg.blocked_queries", "subject": "public.t", "level": "critical"},
            {"code": "http.error_rate_high", "subject": "/x", "level": "critical", "low_confidence": True},
        ],
    }
    assert failing_kpis(report, limits) == [  # 5 requests are too few to judge a 5xx share
        "p95 3.20 s > 2 s on /api/v1/agents",
        "cache hit rate 50.0 % < 90 %",
        "1 critical finding: pg.blocked_queries:public.t",
    ]
    assert failing_kpis({"kpis": {"p95_s": 0.2}, "findings": []}, limits) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [("{ P5 = 3 }", "(?i)keys are P0, P1, P2, P3, not P5"), ("{ P0 = 0 }", "more than 0")],
)
def test_update_every_min_is_validated(tmp_path, table: str, message: str) -> None:
    from perfbook.config import load_config
    from perfbook.errors import ConfigError

    path = tmp_path / "perfbook.toml"
    path.write_text(f"[incident]\nupdate_every_min = {table}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})
    path.write_text("[incident]\nupdate_every_min = { P0 = 5 }\n")
    assert load_config(path, env={}).incident.update_every_min == {"P0": 5, "P1": 30, "P2": 60, "P3": 240}
