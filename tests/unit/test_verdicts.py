"""A critical finding is never an OK (#12): the default cut fails on it, and no banner shows a green OK."""

from __future__ import annotations

import pytest
from rich.console import Console

from perfbook.codes import finding
from perfbook.config import Thresholds
from perfbook.model import Kpis, Report, Severity
from perfbook.report.html import report_to_html
from perfbook.report.markdown import report_to_markdown
from perfbook.report.terminal import build_banner
from perfbook.severity import at_or_above_cut

BLOCKED = finding("pg.blocked_queries", "pid 42", "3 sessions wait on pid 42")
OOM = finding("redis.oom_rejections", "redis://h:6379/0", "writes refused")
DEAD = finding("pg.dead_tuples", "public.t", "dead tuples")


def _report(severity, *findings) -> Report:
    return Report(
        "2026-11-27T10:00:00Z",
        2.1,
        2.0,
        {"host": "this machine (x)", "sources": {}},
        severity,
        "within limits: p95 4 ms, 5xx 0 %",
        [],
        Kpis(p95_s=0.004, error_rate=0.0),
        list(findings),
        {},
    )


@pytest.mark.parametrize(
    "severity, findings, fail_on, hit",
    [
        (Severity.OK, [BLOCKED], "P2", True),  # the lab's lock fault: default cut fails (decided 2026-12-01)
        (Severity.OK, [OOM], "P3", True),  # the lab's redis_full fault, stricter cut
        (Severity.OK, [BLOCKED], "P1", False),  # a cut looser than the default judges severity only
        (Severity.OK, [BLOCKED], "never", False),
        (Severity.OK, [DEAD], "P2", False),  # a warning is no failure of the default cut
        (Severity.P2, [], "P2", True),
        (None, [BLOCKED], "P0", True),  # nothing user-facing measured: the critical cut
    ],
)
def test_the_cut(severity, findings, fail_on, hit):
    assert at_or_above_cut(severity, findings, fail_on) is hit


def _text(renderable) -> str:
    console = Console(width=200, record=True, color_system="truecolor")
    console.print(renderable)
    return console.export_text(clear=False), console.export_html(inline_styles=True)


def test_no_green_ok_in_the_terminal_banner():
    text, html = _text(build_banner(_report(Severity.OK, BLOCKED, OOM)))
    assert (
        "no user-facing slowdown measured, but 2 critical findings: pg.blocked_queries, redis.oom_rejections"
        in text
    )
    assert "#008000" not in html and "green" not in html  # Rich's green, and the healthy border
    healthy, healthy_html = _text(build_banner(_report(Severity.OK)))
    assert "within limits" in healthy and ("#008000" in healthy_html or "green" in healthy_html)


def test_no_plain_ok_in_markdown_and_html():
    report = _report(Severity.OK, BLOCKED)
    md = report_to_markdown(report, Thresholds())
    assert md.startswith("# perfbook triage: OK, with critical findings\n")
    assert "but 1 critical finding: pg.blocked_queries" in md
    page = report_to_html(report, Thresholds())
    assert "OK, with critical findings" in page and 'class="badge sev-P1"' in page
