"""Join family: the application itself — 5xx or slowness with no slow or failing dependency. Pure.

Runs last: an endpoint another family already explains (its cause lists the endpoint) is not
blamed on the application. What is left is judged against the dependencies measured in the same
window: none in trouble raises the confidence that the time or the errors are the app's own;
a dependency in trouble that did not join lowers it, and is named.
"""

from __future__ import annotations

from typing import Any

from perfbook.causes.context import Context, Symptom, explains_little, probe_timed_out
from perfbook.causes.links import single_cause
from perfbook.causes.resources import backend_process
from perfbook.causes.score import Score, first_action, make_cause, pct
from perfbook.model import Cause, Finding
from perfbook.redact import mask_query
from perfbook.routing import route_matches

DEPENDENCIES = ("postgres", "redis")


def app_causes(ctx: Context, claimed: set[str]) -> list[Cause]:
    """Causes for endpoints in trouble that no dependency cause explains."""
    causes = [single_cause(ctx, f, "app", "the backend itself") for f in ctx.of("http.health_failed")]
    # nothing answers: every request fails, whatever else is down behind the backend
    causes += [
        single_cause(
            ctx, f, "app", "the backend itself", (0.1, "the backend answers nothing: every request fails")
        )
        for f in ctx.of("http.unreachable")
    ]
    left = [s for s in ctx.suffering() if s.endpoint not in claimed]
    failing = [s for s in left if s.errors is not None]
    if failing:
        causes.append(_errors(ctx, failing))
    causes += [_slow(ctx, s) for s in left if s.errors is None and s.slow is not None]
    return causes


def _dependencies(ctx: Context, score: Score, what: str, p95_s: float | None = None) -> str:
    """Raise the confidence when every measured dependency is fine; lower it, naming one, when not.
    Slow statements far faster than the endpoint's ``p95_s`` do not count against the application.

    Returns the words for the summary: why this is (or may not be) the application itself.
    """
    deps = [
        d
        for d in ctx.dependency_findings()
        if not (d.code == "pg.slow_queries" and explains_little(_worst_ms(d), p95_s))
    ]
    busy = [f for f in ctx.of("process.cpu_hog", "process.memory_growth") if backend_process(ctx, f)[0]]
    measured = [p for p in DEPENDENCIES if ctx.measured(p)]
    if busy:
        score.add(-0.1, f"{busy[0].key}: the backend's own process is short of CPU or memory")
    if deps:
        # a probe that only timed out is weaker evidence against the application than a real outage
        score.add(
            -0.1 if probe_timed_out(deps[0]) else -0.2, f"{deps[0].key} in the same window may explain it"
        )
        return f"nothing ties it to a dependency ({deps[0].key} is in trouble too, unjoined), so perhaps"
    if measured:
        score.add(
            0.2, f"no {what} dependency in the same window explains it ({', '.join(measured)} measured)"
        )
        return f"no {what} dependency in the same window explains it, so"
    score.add(0.05, "no dependency measured (postgres, redis not configured or not reachable)")
    return "no dependency was measured, so perhaps"


def _slow_figure(fig: dict[str, Any], ctx: Context) -> bool:
    """One source's p95 (less perfbook's own stalls, where measured) is over the slow limit too."""
    p95 = fig.get("p95_net_s") if fig.get("p95_net_s") is not None else fig.get("p95_s")
    return isinstance(p95, (int, float)) and p95 >= ctx.cfg.thresholds.severity_p3_s


def _worst_ms(f: Finding) -> float | None:
    """The slowest statement mean a ``pg.slow_queries`` finding lists (ms)."""
    means = [s.get("mean_ms") for s in f.evidence.get("statements") or [] if isinstance(s, dict)]
    return max((m for m in means if isinstance(m, (int, float))), default=None)


def _statuses(ctx: Context, failing: list[Symptom]) -> dict[str, int]:
    """5xx status codes with their counts on the failing routes (perfbook's own requests, else the findings)."""
    found: dict[str, int] = {}
    for ep in ctx.endpoints():
        if any(route_matches(s.endpoint, ep.path) for s in failing):
            for code, n in (ep.statuses or {}).items():
                if str(code).startswith("5"):
                    found[str(code)] = found.get(str(code), 0) + n
    for s in failing:
        for code, n in ((s.errors.evidence.get("statuses") if s.errors else None) or {}).items():
            if str(code).startswith("5") and str(code) not in found:
                found[str(code)] = n
    return found


def _overall(ctx: Context, score: Score, lead: Symptom) -> None:
    """The window's 5xx share over every request: many few-sample endpoints add up to a firm figure."""
    metrics = ctx.metrics()
    total = metrics.total if metrics is not None else None
    share, requests = (total.error_share, total.requests) if total is not None else (None, None)
    if share is None and lead.errors is not None:
        share, requests = lead.errors.evidence.get("total_share"), lead.errors.evidence.get("total_requests")
    th = ctx.cfg.thresholds
    if (
        share is not None
        and requests
        and share >= th.error_rate
        and requests >= ctx.cfg.http.min_window_requests
    ):
        score.add(0.15, f"5xx {pct(share)} of all {requests} requests in the window")


def _errors(ctx: Context, failing: list[Symptom]) -> Cause:
    lead, score = failing[0], Score()
    assert lead.errors is not None
    requests = lead.errors.evidence.get("requests")
    of = f" of {requests} requests" if requests else ""
    score.finding(lead.errors, f"{lead.label} answers 5xx: {pct(lead.error_share or 0)}{of}")
    if len(failing) > 1:
        score.add(0.05, f"{len(failing) - 1} more endpoint(s) fail in the same window")
    _overall(ctx, score, lead)
    why = _dependencies(ctx, score, "failing")
    statuses = _statuses(ctx, failing)
    codes = ", ".join(f"{c} ×{n}" for c, n in sorted(statuses.items())) or "5xx"
    more = f" (and {', '.join(mask_query(s.endpoint) for s in failing[1:3])})" if len(failing) > 1 else ""
    act = first_action([f for s in failing for f in s.findings], ("manual.read_errors",))
    summary = (
        f"{lead.label}{more} fails with {codes} ({pct(lead.error_share or 0)}{of}) and {why} "
        f"the application itself errors; fix: {act.summary if act else 'read its error log'}"
    )
    evidence = {
        "endpoints": [s.endpoint for s in failing],
        "statuses": statuses,
        "error_share": lead.error_share,
        "requests": requests,
    }
    return make_cause(summary, score, [f for s in failing for f in s.findings], "app", evidence, act)


def _slow(ctx: Context, sym: Symptom) -> Cause:
    assert sym.slow is not None
    score = Score()
    score.finding(sym.slow, f"{sym.label} slow in the window (p95 {sym.p95_s or 0:.2f} s)")
    sources = sym.slow.evidence.get("sources") or {}
    slow_in = [name for name, fig in sources.items() if isinstance(fig, dict) and _slow_figure(fig, ctx)]
    if len(slow_in) > 1:
        score.add(0.05, "seen by the app's own metrics and by perfbook's requests alike")
    why = _dependencies(ctx, score, "slow", sym.p95_s)
    act = first_action([sym.slow])
    summary = (
        f"{sym.label} is slow (p95 {sym.p95_s or 0:.2f} s) and {why} the time is spent in the "
        f"application itself; fix: {act.summary if act else 'profile the handler'}"
    )
    evidence = {"endpoints": [sym.endpoint], "p95_s": sym.p95_s, "sources": sorted(sources)}
    return make_cause(summary, score, [sym.slow], "app", evidence, act)
