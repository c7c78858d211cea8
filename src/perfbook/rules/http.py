"""HTTP rules: judge the http probe's timed requests and the metrics probe's window figures. Pure.

Codes: http.unreachable, http.health_failed, http.slow_response, http.error_rate_high.
The app's own metrics (every real request in the window) and perfbook's timed requests are two
sources of the same truth; a subject slow in both gets one finding carrying both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config
from perfbook.evidence import data_of, usable
from perfbook.evidence.http import EndpointTiming, HttpEvidence
from perfbook.evidence.metrics import HandlerWindow, MetricsEvidence
from perfbook.model import Action, Evidence, Finding, Level
from perfbook.units import format_duration, format_pct


def evaluate(evidence: Mapping[str, Evidence], cfg: Config) -> list[Finding]:
    """Findings for the HTTP layer from the ``http`` and ``metrics`` evidence."""
    findings: list[Finding] = []
    http_ev = evidence.get("http")
    http = data_of(http_ev, HttpEvidence)
    if http_ev is not None and (http_ev.status == "unavailable" or (http is not None and not http.reachable)):
        if http is None or not http.reachable:
            return [_unreachable(cfg, http_ev.reason or "no answer")]
    if http is not None and http.health is not None and not http.health.ok:
        findings.append(_health_failed(http, cfg))
    slow: dict[str, Finding] = {}
    metrics = usable(evidence.get("metrics"), MetricsEvidence)
    if metrics is not None:
        for handler in judged_handlers(metrics, cfg):
            _merge(slow, _slow_from_metrics(handler, cfg))
        findings += _errors_from_metrics(metrics, cfg)
    if http is not None:
        for ep in http.endpoints:
            _merge(slow, _slow_from_http(ep, cfg))
        if metrics is None:
            findings += _errors_from_http(http, cfg)
    return findings + [f for f in slow.values() if f is not None]


def kpis(evidence: Mapping[str, Evidence], cfg: Config) -> dict[str, Any]:
    """p95 (worst subject, its source) and the window error rate, None where not measured."""
    out: dict[str, Any] = {}
    candidates: list[tuple[float, str, str, bool, int]] = []
    metrics = usable(evidence.get("metrics"), MetricsEvidence)
    if metrics is not None:
        for h in judged_handlers(metrics, cfg):
            if h.p95_s is not None and h.requests >= cfg.http.min_window_requests:
                candidates.append((h.p95_s, "metrics", h.handler, h.p95_over_bound, h.requests))
        if metrics.total is not None and metrics.total.requests > 0:
            out["error_rate"] = metrics.total.error_share
            out["error_requests"] = metrics.total.requests
    http = usable(evidence.get("http"), HttpEvidence)
    if http is not None:
        for ep in http.endpoints:
            if ep.p95_s is not None:
                candidates.append((ep.p95_s, "http", ep.path, False, ep.requests))
        if "error_rate" not in out:
            sent = sum(ep.requests for ep in http.endpoints)
            if sent:
                out["error_rate"] = sum(_errors_5xx(ep) for ep in http.endpoints) / sent
                out["error_requests"] = sent
    if candidates:
        p95_s, source, subject, over_bound, requests = max(candidates, key=lambda c: (c[0], c[3]))
        out.update(p95_s=p95_s, p95_source=source, p95_subject=subject, p95_over_bound=over_bound,
                   p95_requests=requests)
    return out


def judged_handlers(metrics: MetricsEvidence, cfg: Config) -> list[HandlerWindow]:
    """Handlers that count for latency: with requests in the window, not /metrics or /health."""
    skip = {cfg.http.metrics_path, cfg.http.health_path}
    return [h for h in metrics.handlers if h.handler not in skip and h.handler != "*" and h.requests > 0]


def _unreachable(cfg: Config, reason: str) -> Finding:
    base = cfg.http.base_url
    return finding(
        "http.unreachable", base, f"backend {base} does not answer: {reason}",
        evidence={"reason": reason},
        actions=[Action("manual.inspect_backend", "see whether the backend runs and why it does not answer",
                        manual=f"curl -sv -m 5 {base}{cfg.http.health_path}; docker ps -a; "
                               "docker logs --tail 100 codexos-backend")],
    )


def _health_failed(http: HttpEvidence, cfg: Config) -> Finding:
    h = http.health
    assert h is not None
    what = f"answered {h.status}" if h.status is not None else f"failed: {h.error}"
    return finding(
        "http.health_failed", cfg.http.health_path, f"health check {cfg.http.health_path} {what}",
        value=h.duration_s, unit="s",
        evidence={"status": h.status, "error": h.error, "duration_s": h.duration_s, "url": h.url},
        actions=[Action("manual.inspect_backend", "read the backend's logs around the failing health check",
                        manual=f"curl -sv -m 5 {h.url}; docker logs --since 10m codexos-backend | tail -100")],
    )


def _slow(subject: str, p95_s: float, over_bound: bool, cfg: Config, source: str,
          evidence: dict[str, Any], low_confidence: bool) -> Finding | None:
    th = cfg.thresholds
    if p95_s < th.severity_p3_s or (p95_s == th.severity_p3_s and not over_bound):
        return None
    level = Level.CRITICAL if p95_s > th.p95_s or (over_bound and p95_s >= th.p95_s) else Level.WARNING
    bound = " or more (top bucket)" if over_bound else ""
    return finding(
        "http.slow_response", subject,
        f"p95 {format_duration(p95_s)}{bound} on {subject} ({source})",
        value=p95_s, threshold=th.p95_s if level is Level.CRITICAL else th.severity_p3_s, unit="s",
        level=level, low_confidence=low_confidence,
        evidence={"sources": {source: evidence}, "p95_over_bound": over_bound},
        actions=[Action("manual.profile_endpoint", f"time {subject} and look at what it waits on",
                        manual=f"time curl -s -o /dev/null {cfg.http.base_url}{subject}")],
    )


def _slow_from_metrics(h: HandlerWindow, cfg: Config) -> Finding | None:
    if h.p95_s is None:
        return None
    ev = {"requests": h.requests, "rate_rps": h.rate_rps, "p50_s": h.p50_s, "p95_s": h.p95_s, "p99_s": h.p99_s,
          "method": h.method, "histogram": h.histogram}
    return _slow(h.handler, h.p95_s, h.p95_over_bound, cfg, "metrics", ev,
                 low_confidence=h.requests < cfg.http.min_window_requests)


def _slow_from_http(ep: EndpointTiming, cfg: Config) -> Finding | None:
    if ep.p95_s is None:
        return None
    ev = {"requests": ep.requests, "p50_s": ep.p50_s, "p95_s": ep.p95_s, "max_s": ep.max_s,
          "method": ep.method, "statuses": ep.statuses, "errors": ep.errors}
    return _slow(ep.path, ep.p95_s, False, cfg, "http", ev, low_confidence=False)


def _merge(slow: dict[str, Finding], new: Finding | None) -> None:
    """One finding per subject: keep the worse trustworthy figure, carry every source's evidence."""
    if new is None:
        return
    old = slow.get(new.subject)
    if old is None:
        slow[new.subject] = new
        return
    # a figure from enough requests beats a bigger one from too few (it is the one severity uses)
    rank = lambda f: (not f.low_confidence, f.value or 0)  # noqa: E731
    keep, other = (new, old) if rank(new) > rank(old) else (old, new)
    sources = {**other.evidence["sources"], **keep.evidence["sources"]}
    merged = {**keep.evidence, "sources": sources}
    slow[new.subject] = replace(keep, evidence=merged, low_confidence=keep.low_confidence and other.low_confidence)


def _errors_from_metrics(m: MetricsEvidence, cfg: Config) -> list[Finding]:
    th, min_n = cfg.thresholds, cfg.http.min_window_requests
    total = m.total
    out = []
    for h in judged_handlers(m, cfg):
        if h.errors_5xx and h.error_share is not None and h.error_share >= th.error_rate:
            out.append(finding(
                "http.error_rate_high", h.handler,
                f"5xx {format_pct(h.error_share)} of {h.requests} requests on {h.handler} (metrics)",
                value=h.error_share, threshold=th.error_rate, unit="share of requests",
                low_confidence=h.requests < min_n,
                evidence={"errors_5xx": h.errors_5xx, "requests": h.requests, "method": h.method,
                          "total_share": total.error_share if total else None,
                          "total_requests": total.requests if total else None, "source": "metrics"},
                actions=[_logs_action(h.handler)],
            ))
    return out


def _errors_5xx(ep: EndpointTiming) -> int:
    return sum(n for code, n in ep.statuses.items() if code.startswith("5"))


def _errors_from_http(http: HttpEvidence, cfg: Config) -> list[Finding]:
    out = []
    for ep in http.endpoints:
        bad = _errors_5xx(ep)
        if ep.requests and bad and bad / ep.requests >= cfg.thresholds.error_rate:
            share = bad / ep.requests
            out.append(finding(
                "http.error_rate_high", ep.path,
                f"5xx {format_pct(share)} of {ep.requests} timed requests on {ep.path} (http)",
                value=share, threshold=cfg.thresholds.error_rate, unit="share of requests",
                low_confidence=ep.requests < cfg.http.min_window_requests,
                evidence={"errors_5xx": bad, "requests": ep.requests, "statuses": ep.statuses, "source": "http"},
                actions=[_logs_action(ep.path)],
            ))
    return out


def _logs_action(subject: str) -> Action:
    return Action("manual.read_errors", f"read the backend's errors for {subject}",
                  manual="docker logs --since 10m codexos-backend 2>&1 | grep -E ' 5[0-9]{2} |Traceback' | tail -50")
