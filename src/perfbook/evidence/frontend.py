"""What the frontend probe hands the rules (``rules/frontend.py``): field names are the contract.

The page's status and time, its weight (page + assets, compressed as sent, each at its declared
Content-Length when it has one, so an asset that is slow or times out still counts), the slowest
assets and the failing ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AssetTiming:
    """One asset fetch."""

    url: str  # redacted
    kind: str  # script | stylesheet | image | other
    status: int | None = None  # None when no response came
    #: what it costs the page: its declared Content-Length, else the bytes seen (also when slow or cut off)
    size_bytes: int = 0
    declared_bytes: int | None = None  # Content-Length of the response (None: not declared, or no response)
    seen_bytes: int = 0  # bytes read before it ended, timed out or hit [http] max_body_bytes
    duration_s: float | None = None  # whole download; a timeout counts as timeout_s
    error: str | None = None  # timeout, connect_refused, reset, … when no response came


@dataclass
class FrontendEvidence:
    """What the frontend probe saw of ``[frontend] url``."""

    url: str  # redacted (the URL asked for; redirects are followed)
    page_status: int  # HTTP status of the page; None when no answer
    page_s: float  # the HTML document's download
    page_bytes: int  # size of the page itself
    assets_found: int = 0  # distinct http(s) asset URLs in the page
    assets_fetched: int = 0  # at most [frontend] max_assets of them
    #: page + fetched assets, each at its declared length (or bytes seen): the page weight
    total_bytes: int = 0
    cross_origin: int = 0  # fetched assets on another origin (a browser loads them too)
    slowest: list[AssetTiming] = field(default_factory=list)  # up to 5, slowest first
    heaviest: list[AssetTiming] = field(default_factory=list)  # up to 5, by size_bytes, heaviest first
    failed: list[AssetTiming] = field(default_factory=list)  # non-2xx answers and transport errors
