"""Frontend probe: fetch the page, then its scripts, stylesheets and images concurrently.

Evidence (:mod:`perfbook.evidence.frontend`, read by ``rules/frontend.py``): the page's status and
time, the bytes over the wire (page + assets, compressed as sent), the slowest assets and the
failing ones. The probe ends by window + timeout_s: an asset still loading then is a timeout.
"""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from perfbook.config import Config
from perfbook.evidence.frontend import AssetTiming, FrontendEvidence
from perfbook.model import Evidence
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.timing import (
    drain_capped,
    header_problem,
    read_capped,
    transport_error_kind,
    unreachable_reason,
)
from perfbook.redact import redact_url
from perfbook.units import format_bytes

if TYPE_CHECKING:
    import httpx

CONCURRENCY = 6  # what a browser opens per host
SLOWEST_KEPT = 5
LINK_RELS = {"stylesheet": "stylesheet", "icon": "image", "preload": "other", "modulepreload": "script"}


class FrontendProbe(BaseProbe):
    """Page, then its assets (``max_assets`` at most, 6 at a time).

    ev = await FrontendProbe().collect(ctx)   # ev.data is a FrontendEvidence
    """

    name = "frontend"
    requires = ("httpx",)  # imported by triage before the window (see probes/base.py)
    evidence = FrontendEvidence
    rules = "perfbook.rules.frontend"
    target_key = "frontend.url"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.frontend.url else "no [frontend] url"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return cfg.http.timeout_s

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Fetch the page and its assets; ``unavailable`` when the page cannot be had at all."""
        import httpx

        cfg = ctx.config.frontend
        if not cfg.url:
            raise ProbeSkipped("no [frontend] url")
        timeout_s = ctx.config.http.timeout_s
        end_at = ctx.clock() + ctx.window_s + timeout_s
        async with httpx.AsyncClient(
            verify=ctx.config.http.verify_tls, timeout=timeout_s, follow_redirects=True
        ) as client:
            page, html, html_cut, page_s = await _fetch_page(client, cfg.url, ctx, timeout_s)
            refs = (
                asset_urls(html, str(page.url)) if "html" in page.headers.get("content-type", "html") else []
            )
            wanted = refs[: cfg.max_assets]
            gate = asyncio.Semaphore(CONCURRENCY)
            assets = await asyncio.gather(
                *(_fetch_asset(client, gate, u, k, ctx, timeout_s, end_at) for u, k in wanted)
            )
        # a cut page is still its length
        page_bytes = max(declared_length(page.headers) or 0, page.num_bytes_downloaded)
        data = FrontendEvidence(
            url=redact_url(cfg.url),
            page_status=page.status_code,
            page_s=round(page_s, 6),
            page_bytes=page_bytes,
            assets_found=len(refs),
            assets_fetched=len(assets),
        )
        data.total_bytes = data.page_bytes + sum(a.size_bytes for a in assets)
        origin = _origin(str(page.url))
        data.cross_origin = sum(1 for u, _ in wanted if _origin(u) != origin)
        timed = [a for a in assets if a.duration_s is not None]
        data.slowest = sorted(timed, key=lambda a: -(a.duration_s or 0.0))[:SLOWEST_KEPT]
        data.heaviest = sorted((a for a in assets if a.size_bytes), key=lambda a: -a.size_bytes)[
            :SLOWEST_KEPT
        ]
        data.failed = [a for a in assets if a.error is not None or (a.status or 0) >= 400]
        cut = _cut_notes(html_cut, assets, ctx.config)
        if cut:  # what was read is true, but it is not the whole page: say so
            return Evidence("frontend", "partial", 0.0, reason="; ".join(cut), data=data)
        return Evidence("frontend", "ok", 0.0, data=data)


def _cut_notes(html_cut: bool, assets: list[AssetTiming], cfg: Any) -> list[str]:
    size = format_bytes(cfg.http.max_body_bytes)
    notes = [f"page over {size}: read the first {size} for its assets"] if html_cut else []
    cut = [a for a in assets if a.seen_bytes > cfg.http.max_body_bytes]
    if cut:
        notes.append(f"{len(cut)} asset(s) over {size}: read the first {size} of each")
    return notes


async def _fetch_page(
    client: httpx.AsyncClient, url: str, ctx: ProbeContext, timeout_s: float
) -> tuple[httpx.Response, str, bool, float]:
    """The page's response, its text (at most [http] max_body_bytes of it), whether it was cut, its time."""
    import httpx

    http = ctx.config.http
    started = ctx.clock()
    try:
        async with asyncio.timeout(_limit(ctx, timeout_s)), client.stream("GET", url) as response:
            problem = header_problem(response, http.max_headers, http.max_header_bytes)
            if problem:
                raise ProbeUnavailable(f"GET {redact_url(url)}: {problem}")
            body, cut = await read_capped(response, http.max_body_bytes)
    except (httpx.TransportError, OSError, TimeoutError) as err:
        raise ProbeUnavailable(unreachable_reason({transport_error_kind(err): 1}, url, timeout_s)) from None
    except httpx.TooManyRedirects:
        raise ProbeUnavailable(f"too many redirects from {redact_url(url)}") from None
    return response, body.decode(response.encoding or "utf-8", errors="replace"), cut, ctx.clock() - started


async def _fetch_asset(
    client: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    url: str,
    kind: str,
    ctx: ProbeContext,
    timeout_s: float,
    end_at: float,
) -> AssetTiming:
    import httpx

    asset = AssetTiming(url=redact_url(url), kind=kind)
    async with gate:
        limit_s = min(_limit(ctx, timeout_s), end_at - ctx.clock())
        if limit_s <= 0:
            asset.error = "timeout"  # the probe's time was up before this one could start
            return asset
        started = ctx.clock()
        response = None
        try:
            async with asyncio.timeout(limit_s), client.stream("GET", url) as response:
                asset.status, asset.declared_bytes = response.status_code, declared_length(response.headers)
                await drain_capped(response, ctx.config.http.max_body_bytes)  # over it: size > the limit
            asset.duration_s = round(ctx.clock() - started, 6)
        except (httpx.TransportError, httpx.TooManyRedirects, OSError, TimeoutError) as err:
            asset.error = transport_error_kind(err)
            asset.duration_s = timeout_s if asset.error in ("timeout", "connect_timeout") else None
        except (httpx.InvalidURL, ValueError, UnicodeError):  # one bad URL in the page fails that asset only
            asset.error = "invalid_url"
        if response is not None:  # a slow or cut body still costs the page what its headers declare
            asset.seen_bytes = response.num_bytes_downloaded
            asset.size_bytes = max(asset.declared_bytes or 0, asset.seen_bytes)
    return asset


def declared_length(headers: Any) -> int | None:
    """The body's declared length (Content-Length: bytes as sent, compressed or not), None when absent or bad.

    >>> declared_length({"content-length": "8000000"}), declared_length({}), declared_length({"content-length": "x"})
    (8000000, None, None)
    """
    try:
        value = int(headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _limit(ctx: ProbeContext, timeout_s: float) -> float:
    left = ctx.time_left()
    return min(timeout_s, max(0.05, left - 0.05)) if left > 0 else timeout_s


def _origin(url: str) -> tuple[str, str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme, parts.hostname, parts.port
    except ValueError:  # an invalid asset URL: no origin (and its fetch fails alone)
        return "", None, None


class _AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.found.append((a["src"], "script"))
        elif tag == "img" and a.get("src"):
            self.found.append((a["src"], "image"))
        elif tag == "link" and a.get("href"):
            kinds = [LINK_RELS[r] for r in a.get("rel", "").lower().split() if r in LINK_RELS]
            if kinds:
                self.found.append((a["href"], kinds[0]))


def asset_urls(html: str, base_url: str) -> list[tuple[str, str]]:
    """Absolute http(s) URLs of the page's scripts, stylesheets and images, deduplicated, in order.

    >>> asset_urls('<script src="/a.js"></script><img src="data:x"><link rel="stylesheet" '
    ...            'href="https://cdn.example/s.css"><img src="i.png">', "http://site/app/")
    [('http://site/a.js', 'script'), ('https://cdn.example/s.css', 'stylesheet'), ('http://site/app/i.png', 'image')]
    """
    parser = _AssetParser()
    parser.feed(html)
    seen: dict[str, str] = {}
    for ref, kind in parser.found:
        try:
            url = urljoin(base_url, ref.strip()).split("#", 1)[0]
            scheme = urlsplit(url).scheme
        except ValueError:  # "http://[::1/x": kept as it is, so its fetch fails alone ("invalid_url")
            url, scheme = ref.strip(), "http"
        if scheme in ("http", "https") and url not in seen:
            seen[url] = kind
    return list(seen.items())
