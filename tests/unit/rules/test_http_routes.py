"""One subject per route, coarse-bucket ranges, perfbook's own stalls and manual commands in the
user's names: the HTTP rules and severity on recorded evidence (no I/O)."""

from __future__ import annotations

import pytest

from perfbook.config import Config
from perfbook.evidence.http import EndpointTiming, HttpEvidence
from perfbook.evidence.metrics import HandlerWindow, MetricsEvidence
from perfbook.evidence.process import ProcessEvidence, WatchedProcess
from perfbook.model import Evidence, Kpis, Level, Severity
from perfbook.routing import route_for
from perfbook.rules import http as rules
from perfbook.severity import classify

CFG = Config()


def handler(
    name: str, p95_s: float, requests: int = 60, p95_range_s: list[float] | None = None, errors: int = 0
) -> HandlerWindow:
    return HandlerWindow(
        handler=name,
        method="GET",
        requests=requests,
        rate_rps=requests / 2,
        p95_s=p95_s,
        p95_range_s=p95_range_s,
        errors_5xx=errors,
        error_share=errors / requests,
    )


def timing(path: str, p95_s: float, net_s: float | None = None, requests: int = 3) -> EndpointTiming:
    return EndpointTiming(
        path,
        "GET",
        f"http://x{path}",
        requests,
        p50_s=p95_s,
        p95_s=p95_s,
        max_s=p95_s,
        statuses={"200": requests},
        p95_net_s=net_s,
    )


def evidence(handlers=(), timings=(), process: list[WatchedProcess] | None = None) -> dict[str, Evidence]:
    total = HandlerWindow(
        "*",
        None,
        sum(h.requests for h in handlers),
        0.0,
        errors_5xx=sum(h.errors_5xx for h in handlers),
        error_share=sum(h.errors_5xx for h in handlers) / max(1, sum(h.requests for h in handlers)),
    )
    out = {"http": Evidence("http", "ok", 2.0, data=HttpEvidence("http://x", True, None, list(timings)))}
    if handlers:
        out["metrics"] = Evidence(
            "metrics", "ok", 2.0, data=MetricsEvidence("http://x/metrics", 2.0, list(handlers), total)
        )
    if process is not None:
        out["process"] = Evidence("process", "ok", 2.0, data=ProcessEvidence(["uvicorn"], [], 2.0, process))
    return out


def judge(ev: dict[str, Evidence], cfg: Config = CFG):
    findings = rules.evaluate(ev, cfg)
    kpis = Kpis(**rules.kpis(ev, cfg))
    severity, reason = classify(findings, kpis, True, cfg.thresholds, cfg.http.min_window_requests)
    return findings, kpis, severity, reason


@pytest.mark.parametrize(
    ("endpoint", "routes", "expected"),
    [
        ("/users/42", ["/users/{id}", "/users"], "/users/{id}"),
        ("/api/items/42", ["/api/items/#val"], "/api/items/#val"),  # express-prom-bundle
        ("/orders/7", ["/orders/:id"], "/orders/:id"),  # Express route
        ("/orders/7", ["/orders/<int:order_id>"], "/orders/<int:order_id>"),  # Flask url_rule
        ("/api/orders?email=…", ["/api/orders", "/api/orders/{id}"], "/api/orders"),  # query string dropped
        ("/users/me", ["/users/{id}", "/users/me"], "/users/me"),  # the literal route is more specific
        ("/users/42/orders", ["/users/{id}"], None),
    ],
)
def test_configured_endpoints_match_the_route_labels_of_common_libraries(endpoint, routes, expected):
    assert route_for(endpoint, routes) == expected


def test_metrics_route_and_perfbooks_query_endpoint_are_one_finding_with_both_sources():
    ev = evidence([handler("/api/orders", 2.4)], [timing("/api/orders?email=…", 2.6)])
    findings, kpis, severity, _ = judge(ev)
    slow = [f for f in findings if f.code == "http.slow_response"]
    assert [f.subject for f in slow] == ["/api/orders"]  # not also /api/orders?email=…
    assert set(slow[0].evidence["sources"]) == {"metrics", "http"} and slow[0].value == 2.6
    assert slow[0].evidence["endpoints"] == ["/api/orders?email=…"]
    assert kpis.p95_subject == "/api/orders" and severity is Severity.P2


def test_a_coarse_range_without_a_timed_figure_is_judged_from_its_lower_bound_and_says_how_high():
    findings, kpis, severity, reason = judge(evidence([handler("/slow", 1.5, p95_range_s=[1.5, 10.0])]))
    (slow,) = findings
    assert (slow.value, slow.level, slow.evidence["p95_range_s"]) == (1.5, Level.WARNING, [1.5, 10.0])
    assert slow.title.startswith("p95 between 1.50 s and 10.00 s on /slow (metrics, coarse buckets)")
    assert "could be as high as 10.00 s" in slow.title
    assert (kpis.p95_s, kpis.p95_range_s, severity) == (1.5, [1.5, 10.0], Severity.P3)
    assert "could be as high as 10.00 s (P1)" in reason


def test_perfbooks_timed_figure_inside_the_range_is_the_figure():
    findings, kpis, severity, reason = judge(
        evidence([handler("/slow", 1.5, p95_range_s=[1.5, 10.0])], [timing("/slow", 2.54)])
    )
    (slow,) = findings
    assert slow.value == 2.54 and slow.evidence["judged_from"] == "http"
    assert (kpis.p95_s, kpis.p95_source, kpis.p95_range_s, severity) == (
        2.54,
        "http",
        [1.5, 10.0],
        Severity.P2,
    )
    assert "the metrics only say between 1.50 s and 10.00 s" in reason


def test_a_timed_figure_only_perfbooks_own_stalls_make_slow_is_no_finding_and_is_unreliable():
    ev = evidence(timings=[timing("/api/x", 1.4, net_s=0.08, requests=5)])
    findings, kpis, severity, _ = judge(ev)
    assert findings == [] and kpis.p95_s == 0.08 and severity is Severity.OK
    (u,) = rules.unreliable(ev, CFG)
    assert (u.code, u.subject, u.value, u.net, u.limit) == ("http.slow_response", "/api/x", 1.4, 0.08, 1.0)


def test_a_timed_figure_slow_with_or_without_perfbooks_stalls_keeps_the_measured_one():
    ev = evidence(timings=[timing("/api/x", 2.6, net_s=2.3, requests=5)])  # P2 either way
    findings, kpis, _, _ = judge(ev)
    assert [f.value for f in findings] == [2.6] and rules.unreliable(ev, CFG) == []


UNIT = WatchedProcess(41, "uvicorn", "uvicorn app:api", "uvicorn", 3.0, 1, unit="api.service")
CONTAINER = WatchedProcess(41, "node", "node server.js", "node", 3.0, 1, container_id="0123456789ab")
LOGS_FILE = Config.model_validate({"http": {"backend_logs": "/var/log/api.log"}})
LOGS_COMMAND = Config.model_validate({"http": {"backend_logs": "journalctl -u api --since -10min"}})


@pytest.mark.parametrize(
    ("cfg", "proc", "expected"),
    [
        (LOGS_FILE, None, "tail -n 500 /var/log/api.log 2>&1 | grep"),
        (LOGS_COMMAND, None, "journalctl -u api --since -10min 2>&1 | grep"),
        (CFG, UNIT, "journalctl -u api.service --since -10min --no-pager 2>&1 | grep"),
        (CFG, CONTAINER, "docker logs --since 10m 0123456789ab 2>&1 | grep"),
        (CFG, None, "tail -n 500 BACKEND_LOG 2>&1 | grep"),
    ],
)
def test_manual_commands_name_what_is_configured_or_found_never_the_runbooks_containers(cfg, proc, expected):
    ev = evidence([handler("/api/report", 0.01, errors=30)], process=[proc] if proc else None)
    (f,) = [f for f in rules.evaluate(ev, cfg) if f.code == "http.error_rate_high"]
    manual = f.actions[0].manual
    assert manual.startswith(expected) and "codexos" not in manual
    assert ("docker" in manual) == (proc is CONTAINER)


def test_an_unreachable_backend_on_a_stack_without_containers_is_told_without_docker():
    down = {"http": Evidence("http", "unavailable", 1.0, reason="connection refused 127.0.0.1:9")}
    (f,) = rules.evaluate(down, CFG)
    manual = f.actions[0].manual
    assert f.code == "http.unreachable" and "codexos" not in manual and "docker" not in manual
    assert manual.startswith("curl -sv -m 5 http://localhost:8001/health; tail -n 500 BACKEND_LOG")
    with_unit = (
        rules.evaluate({**down, "process": evidence(process=[UNIT])["process"]}, CFG)[0].actions[0].manual
    )
    assert "systemctl status api.service --no-pager" in with_unit
