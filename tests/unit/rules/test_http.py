"""The HTTP rules, severity and KPIs on recorded evidence (no I/O)."""

from __future__ import annotations

import pytest

from perfbook.config import Config
from perfbook.evidence.http import EndpointTiming, HealthCheck, HttpEvidence
from perfbook.evidence.metrics import HandlerWindow, MetricsEvidence
from perfbook.model import Evidence, Kpis, Level, Severity
from perfbook.rules import http as rules
from perfbook.severity import classify

CFG = Config()


def handler(name: str, requests: int, p95_s: float, errors: int = 0, over: bool = False) -> HandlerWindow:
    return HandlerWindow(
        handler=name,
        method="GET",
        requests=requests,
        rate_rps=requests / 2,
        p95_s=p95_s,
        p95_over_bound=over,
        errors_5xx=errors,
        error_share=errors / requests if requests else None,
    )


def metrics_ev(*handlers: HandlerWindow, status: str = "ok") -> Evidence:
    judged = [h for h in handlers if h.handler not in ("/metrics", "/health")]
    total = HandlerWindow(
        "*",
        None,
        sum(h.requests for h in judged),
        0.0,
        errors_5xx=sum(h.errors_5xx for h in judged),
        error_share=(sum(h.errors_5xx for h in judged) / max(1, sum(h.requests for h in judged))),
    )
    return Evidence(
        "metrics", status, 2.0, data=MetricsEvidence("http://x/metrics", 2.0, list(handlers), total)
    )


def http_ev(
    *endpoints: EndpointTiming, health_ok: bool = True, reachable: bool = True, status: str = "ok"
) -> Evidence:
    health = HealthCheck("http://x/health", ok=health_ok, status=200 if health_ok else 503, duration_s=0.01)
    return Evidence(
        "http",
        status,
        2.0,
        reason=None if reachable else "connection refused 127.0.0.1:8001",
        data=HttpEvidence("http://x", reachable, health if reachable else None, list(endpoints)),
    )


def timing(path: str, p95_s: float, statuses: dict[str, int] | None = None) -> EndpointTiming:
    statuses = statuses or {"200": 5}
    return EndpointTiming(
        path,
        "GET",
        f"http://x{path}",
        sum(statuses.values()),
        p50_s=p95_s / 2,
        p95_s=p95_s,
        max_s=p95_s,
        statuses=statuses,
    )


def judge(evidence: dict[str, Evidence]):
    findings = rules.evaluate(evidence, CFG)
    kpis = Kpis(**rules.kpis(evidence, CFG))
    severity, reason = classify(findings, kpis, True, CFG.thresholds, CFG.http.min_window_requests)
    return findings, kpis, severity, reason


def codes(findings) -> set[str]:
    return {f"{f.code}:{f.subject}" for f in findings}


def test_lifetime_fast_but_slow_in_window_is_p2_from_metrics():
    findings, kpis, severity, reason = judge(
        {"metrics": metrics_ev(handler("/api/v1/users", 200, 2.4), handler("/api/v1/agents", 200, 0.05))}
    )
    assert codes(findings) == {"http.slow_response:/api/v1/users"}
    assert findings[0].level is Level.CRITICAL
    assert (kpis.p95_s, kpis.p95_source, kpis.p95_subject) == (2.4, "metrics", "/api/v1/users")
    assert severity is Severity.P2 and "/api/v1/users" in reason and "metrics" in reason


@pytest.mark.parametrize(
    "p95_s, severity, level",
    [
        (0.9, Severity.OK, None),
        (1.5, Severity.P3, Level.WARNING),
        (2.5, Severity.P2, Level.CRITICAL),
        (6.0, Severity.P1, Level.CRITICAL),
        (12.0, Severity.P0, Level.CRITICAL),
    ],
)
def test_p95_bands(p95_s, severity, level):
    findings, _, got, _ = judge({"metrics": metrics_ev(handler("/a", 100, p95_s))})
    assert got is severity
    assert [f.level for f in findings] == ([level] if level else [])


def test_over_the_top_bound_is_judged_as_over():
    findings, kpis, severity, reason = judge({"metrics": metrics_ev(handler("/a", 100, 1.0, over=True))})
    assert kpis.p95_over_bound and severity is Severity.P3
    assert "top bucket" in reason and findings[0].evidence["p95_over_bound"] is True


def test_few_requests_do_not_escalate_but_are_reported_with_their_count():
    findings, kpis, severity, _ = judge(
        {"metrics": metrics_ev(handler("/rare", 3, 8.0, errors=2), handler("/busy", 400, 0.1))}
    )
    slow = [f for f in findings if f.code == "http.slow_response"]
    assert slow and slow[0].low_confidence and slow[0].evidence["sources"]["metrics"]["requests"] == 3
    assert severity is Severity.OK
    assert kpis.p95_subject == "/busy"


@pytest.mark.parametrize(
    "errors, severity",
    [(0, Severity.OK), (4, Severity.OK), (6, Severity.P2), (30, Severity.P1), (300, Severity.P0)],
)
def test_error_share_escalations(errors, severity):
    findings, kpis, got, reason = judge(
        {"metrics": metrics_ev(handler("/api/v1/users", 500, 0.1, errors=errors))}
    )
    assert got is severity
    if errors / 500 >= CFG.thresholds.error_rate:
        assert "http.error_rate_high:/api/v1/users" in codes(findings)
        assert kpis.error_rate == pytest.approx(errors / 500) and "5xx" in reason


def test_metrics_and_health_handlers_never_set_latency():
    findings, kpis, severity, _ = judge(
        {
            "metrics": metrics_ev(
                handler("/metrics", 500, 3.0), handler("/health", 500, 3.0), handler("/api", 500, 0.1)
            )
        }
    )
    assert not findings and kpis.p95_subject == "/api" and severity is Severity.OK


def test_unreachable_backend_is_p0_with_one_finding():
    findings, _, severity, reason = judge({"http": http_ev(reachable=False, status="unavailable")})
    assert codes(findings) == {"http.unreachable:http://localhost:8001"}
    assert severity is Severity.P0 and "connection refused" in reason


def test_failing_health_check_is_p0():
    findings, _, severity, _ = judge({"http": http_ev(timing("/health", 0.01), health_ok=False)})
    assert "http.health_failed:/health" in codes(findings) and severity is Severity.P0


def test_slow_in_both_sources_is_one_finding_with_both():
    evidence = {
        "metrics": metrics_ev(handler("/api/v1/users", 100, 2.2)),
        "http": http_ev(timing("/api/v1/users", 2.6)),
    }
    findings, kpis, severity, _ = judge(evidence)
    slow = [f for f in findings if f.code == "http.slow_response"]
    assert len(slow) == 1 and set(slow[0].evidence["sources"]) == {"metrics", "http"}
    assert slow[0].value == 2.6 and kpis.p95_source == "http" and severity is Severity.P2


def test_http_only_5xx_from_few_timed_requests_is_low_confidence():
    findings, kpis, severity, _ = judge({"http": http_ev(timing("/api", 0.1, {"200": 3, "503": 2}))})
    errors = [f for f in findings if f.code == "http.error_rate_high"]
    assert errors and errors[0].low_confidence and severity is Severity.OK
    assert kpis.error_requests == 5


def test_nothing_user_facing_measured_gives_null_severity():
    severity, reason = classify([], Kpis(), False, CFG.thresholds, 20)
    assert severity is None and "nothing user-facing" in reason


def test_merged_finding_prefers_the_figure_severity_uses():
    """Metrics saw the endpoint slower but from too few requests: the finding shows perfbook's own figure."""
    evidence = {
        "metrics": metrics_ev(handler("/api/v1/agents", 6, 4.9), handler("/api/v1/users", 300, 0.05)),
        "http": http_ev(timing("/api/v1/agents", 3.0)),
    }
    findings, kpis, severity, reason = judge(evidence)
    (slow,) = [f for f in findings if f.code == "http.slow_response"]
    assert (
        slow.value == 3.0 and "(http: perfbook's 5 timed requests)" in slow.title and not slow.low_confidence
    )
    assert set(slow.evidence["sources"]) == {"metrics", "http"}
    assert kpis.p95_s == 3.0 and severity is Severity.P2 and "3.00 s" in reason
