"""Metrics probe: two scrapes of the app's Prometheus ``/metrics``, diffed like ``rate()``.

Evidence: :mod:`perfbook.evidence.metrics` (read by ``rules/http.py``, severity and KPIs); the window maths is
:mod:`perfbook.probes.metrics_build`, the page parsing :mod:`perfbook.probes.metrics_parse`.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from perfbook.config import Config
from perfbook.evidence.metrics import MetricsEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.timing import (
    header_problem,
    in_daemon_thread,
    read_capped,
    tls_verify,
    transport_error_kind,
    unreachable_reason,
)
from perfbook.redact import redact_url
from perfbook.units import format_bytes

if TYPE_CHECKING:
    import httpx

    from perfbook.probes.metrics_parse import Page


class MetricsProbe(BaseProbe):
    """Scrape ``metrics_path`` at the start and the end of the window; the evidence is the delta.

    perfbook's own scrapes and health checks stay out of ``total`` (their handlers are left out).

        ev = await MetricsProbe().collect(ctx)   # ev.data is a MetricsEvidence
    """

    name = "metrics"
    codes = "http"  # http.* findings are judged on its evidence
    # imported by triage before the window (see probes/base.py)
    requires = ("httpx", "perfbook.probes.metrics_parse", "perfbook.probes.metrics_build")
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
        from perfbook.probes.metrics_parse import is_request_metric, parse_page

        http = ctx.config.http
        if not http.metrics_path:
            raise ProbeSkipped("no [http] metrics_path")
        url = http.base_url.rstrip("/") + http.metrics_path
        async with httpx.AsyncClient(
            verify=tls_verify(url, http.verify_tls), timeout=http.timeout_s
        ) as client:
            first_at, cuts = ctx.clock(), list[str]()
            first = await _scrape(client, url, ctx, cuts)
            # parsing is pure Python: off the loop, so it never delays the other probes' timings
            parse = functools.partial(
                parse_page, keep=is_request_metric, stop_at=ctx.deadline - 0.25, clock=ctx.clock
            )
            parsing = asyncio.ensure_future(in_daemon_thread(parse, first))
            await ctx.sleep(max(0.0, first_at + ctx.window_s - ctx.clock()))
            second_at = ctx.clock()
            try:
                second = await _scrape(client, url, ctx, cuts)
            finally:
                start = await parsing
        end = await in_daemon_thread(parse, second)
        for page in (start, end):  # the budget ran out in the middle of a page: say where
            if page.cut_at_line:
                cuts.append(
                    f"metrics page parsed to line {page.cut_at_line} only, within the probe's time budget"
                )
        elapsed_s = second_at - first_at
        excluded = {p for p in (http.metrics_path, http.health_path) if p}
        window = window_figures(start, end, elapsed_s, excluded)
        data = MetricsEvidence(
            url=redact_url(url),
            window_s=round(elapsed_s, 3),
            handlers=window.handlers,
            total=window.total,
            reset_detected=bool(window.reset_series),
            families=window.families,
            notes=[*cuts, *window.notes],
            reset_series=window.reset_series,
        )
        data.bad_lines = [f"line {n}: {text}" for n, text in (start.bad_lines or end.bad_lines)[:5]]
        return _evidence(data, start, end)


async def _scrape(client: httpx.AsyncClient, url: str, ctx: ProbeContext, cuts: list[str]) -> str:
    """The page text, at most ``max_metrics_bytes`` of it (cut at a line end, noted in ``cuts``);
    ProbeUnavailable (one line naming the URL) when it cannot be had."""
    import httpx

    http = ctx.config.http
    left = ctx.time_left()
    limit_s = min(http.timeout_s, max(0.05, left - 0.05)) if left > 0 else http.timeout_s
    try:
        async with asyncio.timeout(limit_s), client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ProbeUnavailable(f"GET {redact_url(url)} answered {response.status_code}")
            problem = header_problem(response, http.max_headers, http.max_header_bytes)
            if problem:
                raise ProbeUnavailable(f"GET {redact_url(url)}: {problem}")
            body, cut = await read_capped(response, http.max_metrics_bytes)
    except (httpx.TransportError, OSError, TimeoutError) as err:
        raise ProbeUnavailable(
            unreachable_reason({transport_error_kind(err): 1}, url, http.timeout_s)
        ) from None
    text = body.decode(response.encoding or "utf-8", errors="replace")
    del body  # the bytes and the text of a page over its cap would be two copies
    if cut:  # the last line is likely half a sample: parse whole lines only
        text = text[: text.rfind("\n") + 1]
        limit = format_bytes(http.max_metrics_bytes)
        note = f"metrics page over {limit}: read the first {limit}"
        if note not in cuts:
            cuts.append(note)
    return text


def _evidence(data: MetricsEvidence, start: Page, end: Page) -> Evidence:
    reasons = [n for n in data.notes if n.startswith(("metrics page over", "metrics page parsed"))]
    bad = start.bad_lines or end.bad_lines
    if bad:
        n, text = bad[0]
        more = len(start.bad_lines) + len(end.bad_lines) - 1
        reasons.append(
            f"malformed metrics at {data.url} line {n}: {text!r}" + (f" (+{more} more)" if more else "")
        )
    if data.reset_detected:
        reasons.append(f"counter reset between scrapes ({len(data.reset_series)} series left out)")
    figures = data.total is not None or bool(data.handlers)
    if not figures and not end.values and not end.skipped:
        return Evidence(
            "metrics", "unavailable", 0.0, reason="; ".join(reasons) or "empty metrics page", data=data
        )
    if not figures:
        reasons.append(data.notes[0] if data.notes else f"no HTTP request metrics at {data.url}")
    status: ProbeStatus = "partial" if reasons else "ok"
    return Evidence("metrics", status, 0.0, reason="; ".join(reasons) or None, data=data)
