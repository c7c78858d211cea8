"""HTTP rules: judge the http probe's timed requests and the metrics probe's window figures. Pure.

Codes: http.unreachable, http.health_failed, http.slow_response, http.error_rate_high.
The app's own metrics (every real request in the window) and perfbook's timed requests are two
sources of the same truth: a configured endpoint is matched to the route its metrics use, and each
route is one finding carrying both (:mod:`perfbook.rules.http_figures`). A p95 the histogram only
knows as a coarse bucket is shown as that range; a timed p95 that perfbook's own event-loop stalls
explain is no finding (the report's ``loop_lag`` says the figure is unreliable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config
from perfbook.evidence import data_of, usable
from perfbook.evidence.http import EndpointTiming, HttpEvidence
from perfbook.evidence.metrics import MetricsEvidence
from perfbook.model import Action, Evidence, Finding, Level, UnreliableFigure
from perfbook.rules.http_advice import BackendLogs, inspect_backend, read_errors, read_health_logs
from perfbook.rules.http_figures import RouteFigure, endpoint_subject, judged_handlers, route_figures
from perfbook.units import format_duration, format_duration_range, format_pct

__all__ = ["evaluate", "judged_handlers", "kpis", "unreliable"]


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings for the HTTP layer from the ``http`` and ``metrics`` evidence."""
    logs = BackendLogs.of(cfg, evidence)
    http_ev = evidence.get("http")
    http = data_of(http_ev, HttpEvidence)
    if http_ev is not None and (http_ev.status == "unavailable" or (http is not None and not http.reachable)):
        if http is None or not http.reachable:
            return [_unreachable(cfg, http_ev.reason or "no answer", logs)]
    findings: list[Finding] = []
    if http is not None and http.health is not None and not http.health.ok:
        findings.append(_health_failed(http, cfg, logs))
    metrics = usable(evidence.get("metrics"), MetricsEvidence)
    timed = usable(http_ev, HttpEvidence)
    for fig in route_figures(metrics, timed, cfg):
        slow = _slow(fig, cfg)
        if slow is not None:
            findings.append(slow)
    if metrics is not None:
        findings += _errors_from_metrics(metrics, cfg, logs)
    elif http is not None:
        findings += _errors_from_http(http, cfg, logs)
    return findings


def kpis(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> dict[str, Any]:
    """p95 (worst route, its source, its range) and the window error rate, None where not measured."""
    out: dict[str, Any] = {}
    metrics = usable(evidence.get("metrics"), MetricsEvidence)
    http = usable(evidence.get("http"), HttpEvidence)
    if metrics is not None and metrics.total is not None and metrics.total.requests > 0:
        out["error_rate"] = metrics.total.error_share
        out["error_requests"] = metrics.total.requests
    elif http is not None:
        sent = sum(ep.requests for ep in http.endpoints)
        if sent:
            out["error_rate"] = sum(_errors_5xx(ep) for ep in http.endpoints) / sent
            out["error_requests"] = sent
    judged = [f for f in route_figures(metrics, http, cfg) if not f.low_confidence]
    if judged:
        worst = max(judged, key=lambda f: (f.value_s, f.over_bound))
        out.update(
            p95_s=worst.value_s,
            p95_source=worst.source,
            p95_subject=worst.subject,
            p95_over_bound=worst.over_bound,
            p95_requests=worst.requests,
            p95_range_s=worst.range_s,
        )
    return out


def unreliable(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[UnreliableFigure]:
    """Timed p95s over the slow limit only with perfbook's own event-loop stalls in them (no finding)."""
    http = usable(evidence.get("http"), HttpEvidence)
    metrics = usable(evidence.get("metrics"), MetricsEvidence)
    limit = cfg.thresholds.severity_p3_s
    out = []
    for ep in http.endpoints if http is not None else []:
        if ep.p95_s is not None and ep.p95_net_s is not None and ep.p95_s > limit >= ep.p95_net_s:
            out.append(
                UnreliableFigure(
                    code="http.slow_response",
                    subject=endpoint_subject(ep, metrics),
                    figure="timed p95",
                    value=ep.p95_s,
                    net=ep.p95_net_s,
                    limit=limit,
                    unit="s",
                )
            )
    return out


def _unreachable(cfg: Config, reason: str, logs: BackendLogs) -> Finding:
    base = cfg.http.base_url
    return finding(
        "http.unreachable",
        base,
        f"backend {base} does not answer: {reason}",
        evidence={"reason": reason},
        actions=[inspect_backend(logs, f"{base}{cfg.http.health_path}")],
    )


def _health_failed(http: HttpEvidence, cfg: Config, logs: BackendLogs) -> Finding:
    h = http.health
    assert h is not None
    what = f"answered {h.status}" if h.status is not None else f"failed: {h.error}"
    return finding(
        "http.health_failed",
        cfg.http.health_path,
        f"health check {cfg.http.health_path} {what}",
        value=h.duration_s,
        unit="s",
        evidence={"status": h.status, "error": h.error, "duration_s": h.duration_s, "url": h.url},
        actions=[read_health_logs(logs, h.url)],
    )


def _slow(fig: RouteFigure, cfg: Config) -> Finding | None:
    th = cfg.thresholds
    value, over = fig.value_s, fig.over_bound
    if value < th.severity_p3_s or (value == th.severity_p3_s and not over):
        return None
    level = Level.CRITICAL if value > th.p95_s or (over and value >= th.p95_s) else Level.WARNING
    sources: dict[str, Any] = {}
    if fig.handler is not None:
        h = fig.handler
        sources["metrics"] = {
            "requests": h.requests,
            "rate_rps": h.rate_rps,
            "p50_s": h.p50_s,
            "p95_s": h.p95_s,
            "p99_s": h.p99_s,
            "p95_range_s": h.p95_range_s,
            "method": h.method,
            "histogram": h.histogram,
        }
    if fig.timing is not None:
        ep = fig.timing
        sources["http"] = {
            "requests": ep.requests,
            "p50_s": ep.p50_s,
            "p95_s": ep.p95_s,
            "p95_net_s": ep.p95_net_s,
            "max_s": ep.max_s,
            "method": ep.method,
            "path": ep.path,
            "statuses": ep.statuses,
            "errors": ep.errors,
        }
    path = fig.timing.path if fig.timing is not None else fig.subject
    return finding(
        "http.slow_response",
        fig.subject,
        _slow_title(fig),
        value=value,
        threshold=th.p95_s if level is Level.CRITICAL else th.severity_p3_s,
        unit="s",
        level=level,
        low_confidence=fig.low_confidence,
        evidence={
            "sources": sources,
            "p95_over_bound": over,
            "p95_range_s": fig.range_s,
            "judged_from": fig.source,
            "endpoints": fig.endpoints,
        },
        actions=[
            Action(
                "manual.profile_endpoint",
                f"time {path} and look at what it waits on",
                manual=f"time curl -s -o /dev/null '{cfg.http.base_url}{path}'",
            )
        ],
    )


def _slow_title(fig: RouteFigure) -> str:
    """``p95 2.54 s on /slow (http: perfbook's 3 timed requests; the metrics only say between 1.50 s and 10.00 s)``"""
    subject, value = fig.subject, format_duration(fig.value_s)
    if fig.source == "http":
        ep = fig.timing
        assert ep is not None
        of = f" of {ep.path}" if ep.path != subject else ""
        lag = (
            f"; {format_duration(ep.p95_s)} measured, less perfbook's own event-loop stalls"
            if ep.p95_s is not None and ep.p95_s > fig.value_s
            else ""
        )
        within = f"; the metrics only say {format_duration_range(*fig.range_s)}" if fig.range_s else ""
        return f"p95 {value} on {subject} (http: perfbook's {ep.requests} timed requests{of}{lag}{within})"
    if fig.range_s:
        return (
            f"p95 {format_duration_range(*fig.range_s)} on {subject} (metrics, coarse buckets): judged as "
            f"{value}, could be as high as {format_duration(fig.range_s[1])}"
        )
    bound = " or more (top bucket)" if fig.over_bound else ""
    return f"p95 {value}{bound} on {subject} (metrics)"


def _errors_from_metrics(m: MetricsEvidence, cfg: Config, logs: BackendLogs) -> list[Finding]:
    th, min_n = cfg.thresholds, cfg.http.min_window_requests
    total = m.total
    out = []
    for h in judged_handlers(m, cfg):
        if h.errors_5xx and h.error_share is not None and h.error_share >= th.error_rate:
            out.append(
                finding(
                    "http.error_rate_high",
                    h.handler,
                    f"5xx {format_pct(h.error_share)} of {h.requests} requests on {h.handler} (metrics)",
                    value=h.error_share,
                    threshold=th.error_rate,
                    unit="share of requests",
                    low_confidence=h.requests < min_n,
                    evidence={
                        "errors_5xx": h.errors_5xx,
                        "requests": h.requests,
                        "method": h.method,
                        "total_share": total.error_share if total else None,
                        "total_requests": total.requests if total else None,
                        "source": "metrics",
                    },
                    actions=[read_errors(logs, h.handler)],
                )
            )
    return out


def _errors_5xx(ep: EndpointTiming) -> int:
    return sum(n for code, n in ep.statuses.items() if code.startswith("5"))


def _errors_from_http(http: HttpEvidence, cfg: Config, logs: BackendLogs) -> list[Finding]:
    out = []
    for ep in http.endpoints:
        bad = _errors_5xx(ep)
        if ep.requests and bad and bad / ep.requests >= cfg.thresholds.error_rate:
            share = bad / ep.requests
            out.append(
                finding(
                    "http.error_rate_high",
                    ep.path,
                    f"5xx {format_pct(share)} of {ep.requests} timed requests on {ep.path} (http)",
                    value=share,
                    threshold=cfg.thresholds.error_rate,
                    unit="share of requests",
                    low_confidence=ep.requests < cfg.http.min_window_requests,
                    evidence={
                        "errors_5xx": bad,
                        "requests": ep.requests,
                        "statuses": ep.statuses,
                        "source": "http",
                    },
                    actions=[read_errors(logs, ep.path)],
                )
            )
    return out
