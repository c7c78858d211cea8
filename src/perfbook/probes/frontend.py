"""Frontend probe: fetch the page, then its scripts, stylesheets and images concurrently.

Evidence (:mod:`perfbook.evidence.frontend`, read by ``rules/frontend.py``): the page's status and
time, the bytes over the wire (page + assets, compressed as sent), the slowest assets and the
failing ones. The probe ends by window + timeout_s: an asset still loading then is a timeout.
"""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from perfbook.config import Config
from perfbook.evidence.frontend import AssetTiming, FrontendEvidence
from perfbook.model import Evidence
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.timing import transport_error_kind, unreachable_reason
from perfbook.redact import redact_url

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
        async with httpx.AsyncClient(verify=ctx.config.http.verify_tls, timeout=timeout_s,
                                     follow_redirects=True) as client:
            page, page_s = await _fetch_page(client, cfg.url, ctx, timeout_s)
            refs = asset_urls(page.text, str(page.url)) if "html" in page.headers.get("content-type", "html") else []
            wanted = refs[: cfg.max_assets]
            gate = asyncio.Semaphore(CONCURRENCY)
            assets = await asyncio.gather(*(_fetch_asset(client, gate, u, k, ctx, timeout_s, end_at) for u, k in wanted))
        data = FrontendEvidence(url=redact_url(cfg.url), page_status=page.status_code, page_s=round(page_s, 6),
                                page_bytes=page.num_bytes_downloaded, assets_found=len(refs),
                                assets_fetched=len(assets))
        data.total_bytes = data.page_bytes + sum(a.size_bytes for a in assets)
        origin = _origin(str(page.url))
        data.cross_origin = sum(1 for u, _ in wanted if _origin(u) != origin)
        timed = [a for a in assets if a.duration_s is not None]
        data.slowest = sorted(timed, key=lambda a: -(a.duration_s or 0.0))[:SLOWEST_KEPT]
        data.failed = [a for a in assets if a.error is not None or (a.status or 0) >= 400]
        return Evidence("frontend", "ok", 0.0, data=data)


async def _fetch_page(client: httpx.AsyncClient, url: str, ctx: ProbeContext,
                      timeout_s: float) -> tuple[httpx.Response, float]:
    import httpx

    started = ctx.clock()
    try:
        async with asyncio.timeout(_limit(ctx, timeout_s)):
            response = await client.get(url)
    except (httpx.TransportError, OSError, TimeoutError) as err:
        raise ProbeUnavailable(unreachable_reason({transport_error_kind(err): 1}, url, timeout_s)) from None
    except httpx.TooManyRedirects:
        raise ProbeUnavailable(f"too many redirects from {redact_url(url)}") from None
    return response, ctx.clock() - started


async def _fetch_asset(client: httpx.AsyncClient, gate: asyncio.Semaphore, url: str, kind: str,
                       ctx: ProbeContext, timeout_s: float, end_at: float) -> AssetTiming:
    import httpx

    asset = AssetTiming(url=redact_url(url), kind=kind)
    async with gate:
        limit_s = min(_limit(ctx, timeout_s), end_at - ctx.clock())
        if limit_s <= 0:
            asset.error = "timeout"  # the probe's time was up before this one could start
            return asset
        started = ctx.clock()
        try:
            async with asyncio.timeout(limit_s):
                async with client.stream("GET", url) as response:
                    async for _ in response.aiter_raw():
                        pass
            asset.status, asset.size_bytes = response.status_code, response.num_bytes_downloaded
            asset.duration_s = round(ctx.clock() - started, 6)
        except (httpx.TransportError, httpx.TooManyRedirects, OSError, TimeoutError) as err:
            asset.error = transport_error_kind(err)
            asset.duration_s = timeout_s if asset.error in ("timeout", "connect_timeout") else None
    return asset


def _limit(ctx: ProbeContext, timeout_s: float) -> float:
    left = ctx.time_left()
    return min(timeout_s, max(0.05, left - 0.05)) if left > 0 else timeout_s


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


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
        url = urljoin(base_url, ref.strip()).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https") and url not in seen:
            seen[url] = kind
    return list(seen.items())
