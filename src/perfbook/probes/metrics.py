"""Metrics probe: two scrapes of the app's Prometheus ``/metrics``, diffed like ``rate()``.

Evidence: :mod:`perfbook.evidence.metrics` (read by ``rules/http.py``, severity and KPIs); the window maths is
:mod:`perfbook.probes.metrics_build`, the page parsing :mod:`perfbook.probes.metrics_parse`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from perfbook.config import Config
from perfbook.evidence.metrics import MetricsEvidence
from perfbook.model import Evidence
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.timing import tls_verify, transport_error_kind, unreachable_reason
from perfbook.redact import redact_url

if TYPE_CHECKING:
    import httpx

    from perfbook.probes.metrics_parse import Page


class MetricsProbe(BaseProbe):
    """Scrape ``metrics_path`` at the start and the end of the window; the evidence is the delta.

    perfbook's own scrapes and health checks stay out of ``total`` (their handlers are left out).

        ev = await MetricsProbe().collect(ctx)   # ev.data is a MetricsEvidence
    """

    name = "metrics"
    # imported by triage before the window (see probes/base.py)
    requires = ("httpx", "prometheus_client.parser", "perfbook.probes.metrics_parse", "perfbook.probes.metrics_build")
    evidence = MetricsEvidence
    rules = None  # judged with perfbook's own timings by perfbook.rules.http

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.http.base_url and cfg.http.metrics_path else "no [http] metrics_path"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return cfg.http.timeout_s

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Two scrapes ``window_s`` apart; ``partial`` on a counter reset or malformed lines."""
        import httpx

        from perfbook.probes.metrics_build import window_figures
        from perfbook.probes.metrics_parse import parse_page

        http = ctx.config.http
        if not http.metrics_path:
            raise ProbeSkipped("no [http] metrics_path")
        url = http.base_url.rstrip("/") + http.metrics_path
        async with httpx.AsyncClient(verify=tls_verify(url, http.verify_tls), timeout=http.timeout_s) as client:
            first_at = ctx.clock()
            first = await _scrape(client, url, ctx)
            # parsing is pure Python: off the loop, so it never delays the other probes' timings
            parsing = asyncio.ensure_future(asyncio.to_thread(parse_page, first))
            await ctx.sleep(max(0.0, first_at + ctx.window_s - ctx.clock()))
            second_at = ctx.clock()
            try:
                second = await _scrape(client, url, ctx)
            finally:
                start = await parsing
        end = await asyncio.to_thread(parse_page, second)
        elapsed_s = second_at - first_at
        excluded = {p for p in (http.metrics_path, http.health_path) if p}
        window = window_figures(start, end, elapsed_s, excluded)
        data = MetricsEvidence(url=redact_url(url), window_s=round(elapsed_s, 3), handlers=window.handlers,
                               total=window.total, reset_detected=bool(window.reset_series),
                               families=window.families, notes=window.notes, reset_series=window.reset_series)
        data.bad_lines = [f"line {n}: {text}" for n, text in (start.bad_lines or end.bad_lines)[:5]]
        return _evidence(data, start, end)


async def _scrape(client: httpx.AsyncClient, url: str, ctx: ProbeContext) -> str:
    """The page text; ProbeUnavailable (one line naming the URL) when it cannot be had."""
    import httpx

    timeout_s = ctx.config.http.timeout_s
    left = ctx.time_left()
    limit_s = min(timeout_s, max(0.05, left - 0.05)) if left > 0 else timeout_s
    try:
        async with asyncio.timeout(limit_s):
            response = await client.get(url)
    except (httpx.TransportError, OSError, TimeoutError) as err:
        raise ProbeUnavailable(unreachable_reason({transport_error_kind(err): 1}, url, timeout_s)) from None
    if response.status_code != 200:
        raise ProbeUnavailable(f"GET {redact_url(url)} answered {response.status_code}")
    return response.text


def _evidence(data: MetricsEvidence, start: Page, end: Page) -> Evidence:
    reasons = []
    bad = start.bad_lines or end.bad_lines
    if bad:
        n, text = bad[0]
        more = len(start.bad_lines) + len(end.bad_lines) - 1
        reasons.append(f"malformed metrics at {data.url} line {n}: {text!r}" + (f" (+{more} more)" if more else ""))
    if data.reset_detected:
        reasons.append(f"counter reset between scrapes ({len(data.reset_series)} series left out)")
    figures = data.total is not None or bool(data.handlers)
    if not figures and not end.values:
        return Evidence("metrics", "unavailable", 0.0, reason="; ".join(reasons) or "empty metrics page", data=data)
    if not figures:
        reasons.append(data.notes[0] if data.notes else f"no HTTP request metrics at {data.url}")
    status = "partial" if reasons else "ok"
    return Evidence("metrics", status, 0.0, reason="; ".join(reasons) or None, data=data)
