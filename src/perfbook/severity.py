"""Severity P0–P3 from the worst p95 and the window 5xx share (docs/report-schema.md). Pure.

>>> severity_for_p95(2.4, Thresholds()).value, severity_for_p95(0.3, Thresholds()).value
('P2', 'OK')
>>> severity_for_error_share(0.06).value
'P1'
"""

from __future__ import annotations

from perfbook.config import Thresholds
from perfbook.model import HISTOGRAM_SOURCES, Finding, Kpis, Level, Report, Severity
from perfbook.units import format_duration, format_duration_range, format_pct

# Health failing or the backend unreachable is an outage (runbook P0: "system unusable").
OUTAGE_CODES = ("http.unreachable", "http.health_failed")
ERROR_SHARE_CUTS = ((0.50, Severity.P0), (0.05, Severity.P1), (0.01, Severity.P2))


def severity_for_p95(p95_s: float | None, th: Thresholds, over_bound: bool = False) -> Severity:
    """The runbook's bands: > 10 s P0, > 5 s P1, > 2 s P2, > 1 s P3 (thresholds configurable).

    A p95 "over the top bound" is judged as over that bound (``>=`` instead of ``>``).
    """
    if p95_s is None:
        return Severity.OK
    bands = (
        (th.severity_p0_s, Severity.P0),
        (th.severity_p1_s, Severity.P1),
        (th.severity_p2_s, Severity.P2),
        (th.severity_p3_s, Severity.P3),
    )
    for limit, severity in bands:
        if p95_s > limit or (over_bound and p95_s >= limit):
            return severity
    return Severity.OK


def severity_for_error_share(share: float | None) -> Severity:
    """Window 5xx share: ≥ 50 % P0, ≥ 5 % P1, ≥ 1 % P2 (the escalations)."""
    if share is None:
        return Severity.OK
    for cut, severity in ERROR_SHARE_CUTS:
        if share >= cut:
            return severity
    return Severity.OK


def classify(
    findings: list[Finding], kpis: Kpis, measured: bool, th: Thresholds, min_window_requests: int
) -> tuple[Severity | None, str]:
    """Overall severity and the reason naming the finding that set it.

    ``measured`` is False when neither the http nor the metrics probe ran: severity is then None.
    A 5xx share from fewer than ``min_window_requests`` requests does not escalate.
    """
    if not measured:
        return None, "nothing user-facing was measured (the http and metrics probes did not run)"
    candidates: list[tuple[Severity, str]] = []
    for f in findings:
        if f.code in OUTAGE_CODES:
            candidates.append((Severity.P0, f"{f.code}: {f.title}"))
    p95_sev = severity_for_p95(kpis.p95_s, th, kpis.p95_over_bound)
    if p95_sev is not Severity.OK:
        candidates.append((p95_sev, f"http.slow_response: {p95_text(kpis, th)}"))
    enough = (kpis.error_requests or 0) >= min_window_requests
    err_sev = severity_for_error_share(kpis.error_rate) if enough else Severity.OK
    if err_sev is not Severity.OK:
        candidates.append(
            (
                err_sev,
                f"http.error_rate_high: 5xx {format_pct(kpis.error_rate)} "
                f"of {kpis.error_requests} requests in the window",
            )
        )
    if not candidates:
        p95 = p95_text(kpis, th) if kpis.p95_s is not None else "not measured"
        errors = format_pct(kpis.error_rate) if kpis.error_rate is not None else "not measured"
        return Severity.OK, f"within limits: p95 {p95}, 5xx {errors}"
    return min(candidates, key=lambda c: c[0].rank)


def p95_text(kpis: Kpis, th: Thresholds) -> str:
    """The severity p95 in words, with its subject and source; a range says what it was judged from
    and how high it could be.

    >>> coarse = Kpis(p95_s=1.5, p95_source="metrics", p95_subject="/slow", p95_range_s=[1.5, 10.0])
    >>> print(p95_text(coarse, Thresholds()).replace(": ", ":\\n"))
    p95 between 1.50 s and 10.00 s on /slow (metrics, coarse buckets):
    judged from its lower bound, 1.50 s; could be as high as 10.00 s (P1)
    """
    value, where = format_duration(kpis.p95_s), f"on {kpis.p95_subject}"
    low_high = kpis.p95_range_s
    if kpis.p95_over_bound:
        return f"p95 {value} (over the top bucket bound) {where} ({kpis.p95_source})"
    if low_high and kpis.p95_source in HISTOGRAM_SOURCES:
        worst = severity_for_p95(low_high[1], th).value
        return (
            f"p95 {format_duration_range(*low_high)} {where} ({kpis.p95_source}, coarse buckets): "
            f"judged from its lower bound, {value}; could be as high as {format_duration(low_high[1])} ({worst})"
        )
    if low_high:
        return (
            f"p95 {value} {where} ({kpis.p95_source}: perfbook's timed requests; the metrics only say "
            f"{format_duration_range(*low_high)})"
        )
    return f"p95 {value} {where} ({kpis.p95_source})"


# A critical finding fails the default cut and the stricter P3 one even when latency and errors are
# fine (decided 2026-12-01: a blocked database or a Redis refusing writes is not "OK").
CRITICAL_FAILS_CUTS = frozenset({"P2", "P3"})


def critical_findings(findings: list[Finding]) -> list[Finding]:
    """The critical findings that count (not the low-confidence ones)."""
    return [f for f in findings if f.level is Level.CRITICAL and not f.low_confidence]


def at_or_above_cut(severity: Severity | None, findings: list[Finding], fail_on: str) -> bool:
    """True when a report is at or above ``--fail-on``: P3|P2|P1|P0, critical|warning, or never.

    A null severity (nothing user-facing measured) falls back to the ``critical`` cut.

    >>> from perfbook.codes import finding
    >>> blocked = finding("pg.blocked_queries", "pid 42", "blocked")
    >>> at_or_above_cut(Severity.OK, [blocked], "P2"), at_or_above_cut(Severity.OK, [blocked], "P1")
    (True, False)
    """
    if fail_on == "never":
        return False
    if fail_on in ("critical", "warning") or severity is None:
        cut = Level(fail_on) if fail_on in ("critical", "warning") else Level.CRITICAL
        return any(f.level.rank <= cut.rank and not f.low_confidence for f in findings)
    if severity.at_least(Severity(fail_on)):
        return True
    return fail_on in CRITICAL_FAILS_CUTS and bool(critical_findings(findings))


def critical_caveat(report: Report) -> str | None:
    """The banner line when latency and errors look fine but critical findings say otherwise, else None.

    The terminal and Markdown banners use it.
    """
    crit = critical_findings(report.findings)
    if not crit or (report.severity is not None and report.severity is not Severity.OK):
        return None
    codes = ", ".join(dict.fromkeys(f.code for f in crit))
    measured = (
        "no user-facing slowdown measured"
        if report.severity is Severity.OK
        else "nothing user-facing measured"
    )
    return f"{measured}, but {len(crit)} critical finding{'s' if len(crit) > 1 else ''}: {codes}"
