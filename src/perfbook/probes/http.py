"""HTTP probe: the health check and timed requests to each configured endpoint across the window.

Evidence: :mod:`perfbook.evidence.http` (read by ``rules/http.py``, severity and KPIs).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perfbook.config import Config, Endpoint
from perfbook.evidence.http import EndpointTiming, HealthCheck, HttpEvidence
from perfbook.model import Evidence
from perfbook.probes.base import BaseProbe, ProbeContext
from perfbook.probes.timing import (
    drain_capped,
    header_problem,
    headers_from_env,
    median,
    percentile,
    tls_verify,
    transport_error_kind,
    unreachable_reason,
)
from perfbook.redact import mask_query, redact_url
from perfbook.units import format_bytes

if TYPE_CHECKING:
    import httpx


@dataclass
class _Sample:
    """One timed request: its duration (a timeout counts as timeout_s), status or error, phases."""

    duration_s: float | None  # None for a transport error other than a timeout
    status: int | None = None
    error: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    # (started, answered) clock values of a request that got an answer
    span: tuple[float, float] | None = None
    cut: bool = False  # the body was over max_body_bytes: timed to the cut


class HttpProbe(BaseProbe):
    """The health check, then timed requests to every endpoint spread across the window.

    All endpoints run concurrently, one request in flight per endpoint, through one client; the
    probe ends by window + timeout_s (each request is also capped by the context's deadline).

        ev = await HttpProbe().collect(ctx)   # ev.data is an HttpEvidence
    """

    name = "http"
    requires = ("httpx",)  # imported by triage before the window (see probes/base.py)
    evidence = HttpEvidence
    rules = "perfbook.rules.http"
    target_key = "http.base_url"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.http.base_url else "no [http] base_url"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return cfg.http.timeout_s

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Measure the backend; ``unavailable`` (with data, reachable=False) when nothing answered."""
        import httpx

        http = ctx.config.http
        base = http.base_url.rstrip("/")
        endpoints = http.endpoint_list()
        pool = httpx.Limits(max_connections=len(endpoints) + 2, max_keepalive_connections=len(endpoints) + 2)
        async with httpx.AsyncClient(
            verify=tls_verify(base, http.verify_tls), timeout=http.timeout_s, limits=pool
        ) as client:
            runner = _Runner(client, ctx)
            start = ctx.clock()
            health = runner.health(base + http.health_path) if http.health_path else _none()
            timed = [runner.endpoint(base, ep, start, i) for i, ep in enumerate(endpoints)]
            health_check, timings = await asyncio.gather(health, asyncio.gather(*timed))
        for i, timing in enumerate(timings):  # after the requests, so every stall is recorded by now
            timing.p95_net_s = _net_p95(ctx, runner.sampled.get(i, []), http.timeout_s)
        return _evidence(base, health_check, timings, runner.kinds, http.timeout_s)


async def _none() -> None:
    return None


class _Runner:
    """Sends the requests of one probe run and remembers every transport error kind seen."""

    def __init__(self, client: httpx.AsyncClient, ctx: ProbeContext) -> None:
        self.client = client
        self.ctx = ctx
        self.timeout_s = ctx.config.http.timeout_s
        self.samples = ctx.config.http.samples_per_endpoint
        self.kinds: Counter[str] = Counter()
        self.sampled: dict[int, list[_Sample]] = {}  # each endpoint's samples, by its index

    async def health(self, url: str) -> HealthCheck:
        sample = await self.request("GET", url, {})
        ok = sample.status is not None and 200 <= sample.status < 300
        duration = None if sample.duration_s is None else round(sample.duration_s, 6)
        return HealthCheck(
            url=redact_url(url), ok=ok, status=sample.status, duration_s=duration, error=sample.error
        )

    async def endpoint(self, base: str, ep: Endpoint, start: float, index: int) -> EndpointTiming:
        headers, note = headers_from_env(ep.headers_env)
        url = base + ep.path
        window_s, clock = self.ctx.window_s, self.ctx.clock
        samples: list[_Sample] = []
        self.sampled[index] = samples
        for i in range(self.samples):
            at, now = start + i * window_s / self.samples, clock()
            if samples and (now >= start + window_s or self.ctx.time_left() < 0.1):
                break  # one in flight: a slow answer uses up the slots it overran
            if at > now:
                await self.ctx.sleep(at - now)
            samples.append(await self.request(ep.method.upper(), url, headers))
        return _timing(
            ep, redact_url(url), samples, note, self.timeout_s, self.ctx.config.http.max_body_bytes
        )

    async def request(self, method: str, url: str, headers: dict[str, str]) -> _Sample:
        """One request, bounded by timeout_s (and the deadline) as a whole, not per phase."""
        marks: dict[str, float] = {}

        async def trace(event: str, info: Any) -> None:
            marks[event] = self.ctx.clock()

        left = self.ctx.time_left()
        limit_s = min(self.timeout_s, max(0.05, left - 0.05)) if left > 0 else self.timeout_s
        http = self.ctx.config.http
        started = self.ctx.clock()
        try:  # streamed: the body is counted and dropped, at most max_body_bytes of it
            async with (
                asyncio.timeout(limit_s),
                self.client.stream(method, url, headers=headers, extensions={"trace": trace}) as response,
            ):
                if header_problem(response, http.max_headers, http.max_header_bytes):
                    self.kinds["headers_over_limit"] += 1
                    return _Sample(None, error="headers_over_limit")
                _, cut = await drain_capped(response, http.max_body_bytes)
        except Exception as err:  # narrowed by kind below: every transport failure is data here
            kind = transport_error_kind(err)
            if kind == "other" and not _is_transport_error(err):
                raise
            self.kinds[kind] += 1
            timed_out = kind in ("timeout", "connect_timeout")
            return _Sample(self.timeout_s if timed_out else None, error=kind)
        answered = self.ctx.clock()
        return _Sample(
            answered - started,
            status=response.status_code,
            phases=_phases(marks),
            span=(started, answered),
            cut=cut,
        )


def _is_transport_error(err: BaseException) -> bool:
    import httpx

    return isinstance(err, (httpx.TransportError, OSError, TimeoutError))


def _phases(marks: dict[str, float]) -> dict[str, float]:
    """connect / TLS / first-byte seconds from httpcore's trace events (present when it ran)."""

    def span(start_suffix: str, end_suffix: str) -> float | None:
        begin = next((t for e, t in marks.items() if e.endswith(start_suffix)), None)
        end = next((t for e, t in marks.items() if e.endswith(end_suffix)), None)
        return None if begin is None or end is None else end - begin

    spans = {
        "connect_s": span("connect_tcp.started", "connect_tcp.complete"),
        "tls_s": span("start_tls.started", "start_tls.complete"),
        "first_byte_s": span("send_request_headers.started", "receive_response_headers.complete"),
    }
    return {k: v for k, v in spans.items() if v is not None}


def _timing(
    ep: Endpoint, url: str, samples: list[_Sample], note: str | None, timeout_s: float, max_body_bytes: int
) -> EndpointTiming:
    durations = [s.duration_s for s in samples if s.duration_s is not None]
    # query values can be personal data (an e-mail search): evidence keeps only their names
    timing = EndpointTiming(
        path=mask_query(ep.path),
        method=ep.method.upper(),
        url=mask_query(url),
        requests=len(samples),
        expect_status=ep.expect_status,
    )
    timing.p50_s, timing.p95_s = _r(percentile(durations, 0.5)), _r(percentile(durations, 0.95))
    timing.max_s = _r(max(durations)) if durations else None
    timing.statuses = dict(Counter(str(s.status) for s in samples if s.status is not None))
    timing.errors = dict(Counter(s.error for s in samples if s.error is not None))
    timing.unexpected = sum(1 for s in samples if _unexpected(s, ep.expect_status))
    for phase in ("connect_s", "tls_s", "first_byte_s"):
        setattr(timing, phase, _r(median([s.phases[phase] for s in samples if phase in s.phases])))
    timing.notes = [note] if note else []
    if any(s.cut for s in samples):
        size = format_bytes(max_body_bytes)
        timing.notes.append(f"response body over {size}: read the first {size}, timed to there")
    return timing


def _net_p95(ctx: ProbeContext, samples: list[_Sample], timeout_s: float) -> float | None:
    """The p95 of the timed requests less perfbook's own event-loop stalls in each (a timeout still
    counts as timeout_s); None when the stalls are not measured."""
    nets = ctx.less_own_stalls([s.span for s in samples if s.span is not None])
    if nets is None:
        return None
    nets += [timeout_s for s in samples if s.span is None and s.duration_s is not None]
    return _r(percentile(nets, 0.95))


def _unexpected(sample: _Sample, expect_status: int | None) -> bool:
    if sample.status is None:
        return True
    return sample.status != expect_status if expect_status is not None else sample.status >= 500


def _evidence(
    base: str,
    health: HealthCheck | None,
    timings: list[EndpointTiming],
    kinds: Counter[str],
    timeout_s: float,
) -> Evidence:
    answered = (health is not None and health.status is not None) or any(t.statuses for t in timings)
    data = HttpEvidence(
        base_url=redact_url(base), reachable=answered, health=health, endpoints=timings, timeout_s=timeout_s
    )
    if answered:
        return Evidence("http", "ok", 0.0, data=data)
    return Evidence("http", "unavailable", 0.0, reason=unreachable_reason(kinds, base, timeout_s), data=data)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
