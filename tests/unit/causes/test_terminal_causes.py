"""The terminal report opens with the top cause and lists the ranked causes with their reasons."""

from __future__ import annotations

from causes_stack import findings_of, handler, healthy, host_ev, metrics_ev, other_process
from rich.console import Console

from perfbook.causes import rank_causes
from perfbook.model import Kpis, Report, Severity
from perfbook.report.terminal import build_banner, print_report


def report_of(evidence, cfg) -> Report:
    found = findings_of(evidence, cfg)
    return Report(
        started_at="2026-11-27T10:00:00Z",
        duration_s=2.2,
        window_s=2.0,
        target={"host": "this machine"},
        severity=Severity.P1,
        severity_reason="p95 3.10 s on /api/v1/agents",
        issue_types=[],
        kpis=Kpis(),
        findings=found,
        probes=evidence,
        causes=rank_causes(found, evidence, cfg),
    )


def text(renderable) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_banner_and_list_show_the_top_cause_with_reasons(cfg):
    ev = healthy()
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 3.1))
    report = report_of(ev, cfg)
    assert "likely cause: GET /api/v1/agents is slow (p95 3.10 s)" in text(build_banner(report))
    console = Console(record=True, width=240, color_system=None)
    print_report(report, cfg.thresholds, console)
    out = console.export_text()
    assert "Causes, most likely first" in out and "1. 60% [app] GET /api/v1/agents is slow" in out
    assert "+0.40 GET /api/v1/agents slow in the window" in out


def test_no_cause_prints_no_causes_section(cfg):
    report = report_of(healthy(), cfg)
    assert report.causes == []
    console = Console(record=True, width=200, color_system=None)
    print_report(report, cfg.thresholds, console)
    out = console.export_text()
    assert "Causes, most likely first" not in out and "likely cause" not in out


def test_a_weak_top_cause_is_only_possible(cfg):
    ev = healthy()
    ev["host"] = host_ev(busy_pct=90.0, top=[other_process(cpu_pct=50.0)])
    report = report_of(ev, cfg)
    assert report.causes and report.causes[0].confidence <= 0.3
    assert "possible cause (weak): " in text(build_banner(report))
