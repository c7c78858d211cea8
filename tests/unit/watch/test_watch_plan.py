"""watch's pure pieces: the schedule, the rows a run writes, the silence matchers, the terminal line."""

from __future__ import annotations

import pytest

from perfbook.alerts.observe import Observation, Observed
from perfbook.cli.alerts_watch_cmd import parse_matchers
from perfbook.config import Config
from perfbook.errors import UsageError
from perfbook.model import Kpis, Report, Severity
from perfbook.watch import plan
from perfbook.watch.metrics import WatchMetrics
from perfbook.watch.samples import sample_rows


def test_expensive_probes_run_on_the_first_run_and_every_nth():
    cfg = Config.model_validate({"watch": {"expensive_every": 3, "expensive_probes": ["postgres"]}})
    assert [plan.skipped_probes(n, cfg) for n in range(5)] == [
        [],
        ["postgres"],
        ["postgres"],
        [],
        ["postgres"],
    ]


@pytest.mark.parametrize(
    ("now", "expected"), [(100.0, 130.0), (129.9, 130.0), (130.0, 160.0), (195.0, 220.0)]
)
def test_runs_keep_their_grid(now, expected):
    assert plan.next_start(100.0, 30.0, now=now) == expected


def test_the_window_stays_below_the_interval():
    cfg = Config.model_validate({"triage": {"window_s": 5.0}})
    assert plan.window_for(cfg, 30.0) == 5.0
    assert plan.window_for(cfg, 2.0) == 1.75
    assert plan.window_for(cfg, 30.0, "1s") == 1.0


def _report(**kpis) -> Report:
    return Report(
        started_at="2026-12-01T10:00:00Z",
        duration_s=1.0,
        window_s=1.0,
        target={},
        severity=Severity.OK,
        severity_reason="",
        issue_types=[],
        kpis=Kpis(**kpis),
        findings=[],
        probes={},
    )


def test_samples_hold_the_stacks_kpis_and_each_measured_subject():
    obs = Observation(
        [
            Observed("p95_s", "/api/v1/users", 2.4, count=120),
            Observed("p95_s", "/x", None),
            Observed("finding pg.blocked_queries", "db", 3.0),
        ],
        {},
        ["p95_s"],
    )
    rows = sample_rows(
        _report(p95_s=2.4, p95_requests=120, error_rate=0.0, error_requests=50), obs, at_s=1.0, run_id="r"
    )
    assert [(r["kpi"], r["subject"], r["value"], r["count"]) for r in rows] == [
        ("p95_s", "", 2.4, 120),
        ("error_rate", "", 0.0, 50),
        ("p95_s", "/api/v1/users", 2.4, 120),
    ]


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        (["alertname=HighCPUUsage"], ("HighCPUUsage", None)),
        (["HighCPUUsage", "subject=vm"], ("HighCPUUsage", "vm")),
        (["rule=X", "subject=/a=b"], ("X", "/a=b")),
    ],
)
def test_silence_matchers(matchers, expected):
    assert parse_matchers(matchers) == expected


@pytest.mark.parametrize(
    "matchers", [["alertname=~High.*"], ["alertname!=X"], ["subject=vm"], ["job=api", "X"]]
)
def test_silence_matchers_refused(matchers):
    with pytest.raises(UsageError):
        parse_matchers(matchers)


def test_metrics_of_an_empty_watch_still_expose_the_counters():
    body, content_type = WatchMetrics().exposition()
    assert b"perfbook_watch_runs_total 0.0" in body and content_type.startswith("text/plain")


def test_the_live_view_shows_each_kpi_with_its_sparkline_and_the_alerts():
    from rich.console import Console

    from perfbook.watch.view import History, build_view

    history = History()
    doc = {}
    for i, p95 in enumerate((0.1, 0.2, 2.5)):
        doc = {
            "run_id": f"r{i}",
            "started_at": "2026-12-01T10:00:00Z",
            "severity": "P2",
            "kpis": {"p95_s": p95, "p95_requests": 40, "error_rate": 0.0, "error_requests": 40},
            "alerts": [
                {
                    "rule": "HighResponseTime",
                    "subject": "/api/v1/users",
                    "state": "pending",
                    "value": p95,
                    "muted_by": None,
                }
            ],
        }
        history.add(doc)
    console = Console(record=True, width=120, color_system=None)
    console.print(build_view(doc, history, Config()))
    text = console.export_text()
    assert "p95 response time" in text and "▁▁█" in text and "< 2.00 s" in text and "fail" in text
    assert "pending" in text and "HighResponseTime" in text and "/api/v1/users" in text
