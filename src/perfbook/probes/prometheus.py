"""Prometheus probe: ask the Prometheus HTTP API what the metrics probe computes from two scrapes,
across every replica the selector matches, and per replica.

Evidence: :mod:`perfbook.evidence.prometheus`; the maths :mod:`perfbook.probes.prometheus_build`;
judged by :mod:`perfbook.rules.prometheus`. Cost, stated in the evidence: one label-values call to
discover the request series, one instant query per series name (typically 3), one for the
processes' CPU, three for node_exporter and four for cAdvisor — each under ``timeout_s``, each answer cut at
``max_series`` series. Credentials come from environment variables named in the config (a bearer
token, or basic auth) and never appear in the evidence or a reason.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from perfbook.config import Config
from perfbook.evidence.prometheus import PrometheusEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.timing import read_capped, tls_verify, transport_error_kind, unreachable_reason
from perfbook.redact import redact_text, redact_url

if TYPE_CHECKING:
    import httpx

MAX_ANSWER_BYTES = 32 * 2**20


class PrometheusProbe(BaseProbe):
    """Query ``[prometheus] url`` for the fleet's request figures and node_exporter's host figures.

    ev = await PrometheusProbe().collect(ctx)   # ev.data is a PrometheusEvidence
    """

    name = "prometheus"
    requires = ("httpx", "perfbook.probes.prometheus_build", "perfbook.probes.metrics_build")
    evidence = PrometheusEvidence
    rules = "perfbook.rules.prometheus"
    target_key = "prometheus.url"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.prometheus.url else "no [prometheus] url"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return cfg.prometheus.timeout_s

    @classmethod
    def budget_s(cls, cfg: Config, window_s: float) -> float:
        # the range is in Prometheus already: no waiting for the window, two rounds of queries
        return 2 * cfg.prometheus.timeout_s + 1.5

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Discover the request series, query them and node_exporter concurrently, build the figures."""
        import httpx

        from perfbook.probes import prometheus_build as build

        prom = ctx.config.prometheus
        if not prom.url:
            raise ProbeSkipped("no [prometheus] url")
        range_s = max(prom.range_s, ctx.window_s)
        api = _Api(prom.url.rstrip("/"), prom.timeout_s, prom.max_series, _auth(ctx.config))
        async with httpx.AsyncClient(
            verify=tls_verify(prom.url, prom.verify_tls),
            timeout=prom.timeout_s,
            headers=api.headers,
            auth=api.basic,
        ) as client:
            api.client = client
            discovered = build.names(
                await api.get(
                    "/api/v1/label/__name__/values",
                    {
                        "match[]": build.matchers(
                            prom.selector, '__name__=~".+(_bucket|_count|requests_total)"'
                        ),
                        "start": str(time.time() - range_s),
                        "end": str(time.time()),
                    },
                )
            )
            wanted = build.request_series(discovered)
            host_q = build.host_queries(prom.node_selector, range_s)
            container_q = build.container_queries(prom.container_selector, range_s)
            jobs = [api.vector(build.increase_query(n, prom.selector, range_s)) for n in wanted]
            jobs += [api.vector(build.cpu_query(prom.selector, range_s))]
            jobs += [api.vector(q) for q in (*host_q.values(), *container_q.values())]
            answers = await asyncio.gather(*jobs)
        by_name = dict(zip(wanted, answers[: len(wanted)], strict=True))
        cpu, host_cpu, host_mem, host_disk, *container_answers = answers[len(wanted) :]
        http = ctx.config.http
        excluded = {p for p in (http.metrics_path, http.health_path) if p}
        fleet = build.fleet_window(by_name, range_s, excluded)
        data = PrometheusEvidence(
            url=redact_url(prom.url),
            selector=prom.selector,
            range_s=range_s,
            handlers=fleet.handlers,
            total=fleet.total,
            instances=build.instance_windows(by_name, range_s, excluded, cpu),
            hosts=build.hosts(host_cpu, host_mem, host_disk),
            containers=build.containers(*container_answers),
            families=wanted,
            queries=api.queries,
            series=api.series,
            bytes_read=api.bytes_read,
            notes=[*api.notes, *fleet.notes],
        )
        if not wanted:
            data.notes.insert(
                0, f"no HTTP request series under {build.matchers(prom.selector)} in the last {range_s:g} s"
            )
        status: ProbeStatus = "partial" if api.notes else "ok"
        return Evidence("prometheus", status, 0.0, reason="; ".join(api.notes) or None, data=data)


class _Api:
    """The few HTTP API calls the probe makes, counted (queries, series, bytes) and bounded."""

    def __init__(
        self, base: str, timeout_s: float, max_series: int, auth: tuple[dict[str, str], Any]
    ) -> None:
        self.base, self.timeout_s, self.max_series = base, timeout_s, max_series
        self.headers, self.basic = auth
        self.client: httpx.AsyncClient | None = None
        self.queries = self.series = self.bytes_read = 0
        self.notes: list[str] = []

    async def vector(self, query: str) -> list[tuple[dict[str, str], float]]:
        from perfbook.probes.prometheus_build import QueryError, vector

        doc = await self.get("/api/v1/query", {"query": query, "timeout": f"{int(self.timeout_s * 1000)}ms"})
        try:
            samples = vector(doc)
        except QueryError as err:
            raise ProbeUnavailable(redact_text(f"Prometheus refused {query[:80]!r}: {err}")) from None
        self.series += len(samples)
        if len(samples) > self.max_series:
            self.notes.append(
                f"{len(samples)} series for {query[:60]!r}: kept the first {self.max_series} (max_series)"
            )
            samples = samples[: self.max_series]
        return samples

    async def get(self, path: str, params: dict[str, str]) -> Any:
        import json

        import httpx

        assert self.client is not None
        url = self.base + path
        self.queries += 1
        try:
            async with (
                asyncio.timeout(self.timeout_s + 0.5),
                self.client.stream("GET", url, params=params) as response,
            ):
                body, cut = await read_capped(response, MAX_ANSWER_BYTES)
        except (httpx.TransportError, OSError, TimeoutError) as err:
            raise ProbeUnavailable(
                "Prometheus " + unreachable_reason({transport_error_kind(err): 1}, url, self.timeout_s)
            ) from None
        self.bytes_read += len(body)
        if response.status_code in (401, 403):
            raise ProbeUnavailable(
                f"Prometheus at {redact_url(self.base)} answered {response.status_code}: "
                "check [prometheus] token_env / user / password_env"
            )
        if cut:
            raise ProbeUnavailable(
                f"Prometheus answer over {MAX_ANSWER_BYTES} bytes for {path}: narrow [prometheus] selector"
            )
        try:
            return json.loads(body)
        except ValueError:
            raise ProbeUnavailable(
                f"GET {redact_url(url)} answered {response.status_code}, not JSON"
            ) from None


def _auth(cfg: Config) -> tuple[dict[str, str], Any]:
    """Bearer header or basic auth from the environment variables the config names."""
    import httpx

    prom = cfg.prometheus
    headers: dict[str, str] = {}
    basic = None
    if prom.token_env:
        token = os.environ.get(prom.token_env, "")
        if not token:
            raise ProbeUnavailable(f"[prometheus] token_env names {prom.token_env}, which is not set")
        headers["Authorization"] = f"Bearer {token}"
    if prom.user:
        password = os.environ.get(prom.password_env, "") if prom.password_env else ""
        basic = httpx.BasicAuth(prom.user, password)
    return headers, basic
