"""5xx or slowness with no slow dependency → the application itself (the endpoint and its status codes)."""

from __future__ import annotations

from causes_stack import handler, healthy, http_ev, metrics_ev, timing


def test_errors_with_healthy_dependencies_blame_the_application(rank):
    ev = healthy()
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=100, errors_5xx=30),
        handler("/api/v1/agents", requests=80, errors_5xx=20),
    )
    ev["http"] = http_ev(timing("/api/v1/users", statuses={"200": 3, "500": 2}), timing("/api/v1/agents"))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "app"
    assert top.summary.startswith(
        "GET /api/v1/users (and /api/v1/agents) fails with 500 ×2 (30 % of 100 requests) "
        "and no failing dependency in the same window explains it, so the application itself errors"
    )
    assert set(top.findings) == {"http.error_rate_high:/api/v1/users", "http.error_rate_high:/api/v1/agents"}
    assert top.evidence["statuses"] == {"500": 2}
    assert top.confidence >= 0.6


def test_slow_endpoint_with_healthy_dependencies_is_the_application(rank):
    ev = healthy()
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 3.1))
    ev["http"] = http_ev(timing("/api/v1/users"), timing("/api/v1/agents", 3.0))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "app" and top.findings == ("http.slow_response:/api/v1/agents",)
    assert (
        "GET /api/v1/agents is slow (p95 3.10 s) and no slow dependency in the same window explains it"
        in top.summary
    )
    assert top.confidence >= 0.6


def test_few_requests_lower_the_confidence(rank):
    ev = healthy()
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=8, errors_5xx=4), handler("/api/v1/agents", requests=5)
    )
    _, causes = rank(ev)
    assert causes[0].layer == "app"
    assert any("few samples" in r for r in causes[0].reasons)
    assert causes[0].confidence <= 0.5


def test_many_thin_endpoints_failing_add_up_to_a_firm_share(rank):
    ev = healthy()
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=9, errors_5xx=3),
        handler("/api/v1/users/{user_id}", requests=14, errors_5xx=5),
        handler("/api/v1/agents", requests=9, errors_5xx=4),
    )
    ev["http"] = http_ev(timing("/api/v1/users/42", statuses={"200": 3, "500": 2}), timing("/api/v1/agents"))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "app" and top.summary.startswith(
        "GET /api/v1/users/{user_id} (and /api/v1/agents, /api/v1/users)"
    )
    assert "fails with 500 ×2" in top.summary, "status codes of a concrete path count for its route"
    assert any("5xx 38 % of all 32 requests in the window" in r for r in top.reasons)
    assert top.confidence >= 0.5


def test_no_dependency_measured_is_said(rank):
    ev = {"http": http_ev(timing("/api/v1/users"), timing("/api/v1/agents", 3.0))}
    _, causes = rank(ev)
    assert causes[0].layer == "app"
    assert (
        "no dependency was measured, so perhaps the time is spent in the application itself"
        in causes[0].summary
    )
