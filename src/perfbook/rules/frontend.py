"""Frontend rules: judge the page and its assets. Pure.

Code: frontend.slow_assets, one finding per page naming every problem: the page itself failing
(critical: users get no page), failing assets, the slowest asset over ``thresholds.asset_s``, and
the page weight over ``thresholds.page_weight_mb`` (MB = 10^6 bytes). value / threshold / unit
describe the first problem in that order. perfbook has no fix here: the actions are ``manual``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config
from perfbook.evidence import usable
from perfbook.evidence.frontend import AssetTiming, FrontendEvidence
from perfbook.model import Action, Evidence, Finding, Level

MB = 1_000_000


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """frontend.slow_assets from the ``frontend`` evidence (nothing when skipped or unreachable)."""
    data = usable(evidence.get("frontend"), FrontendEvidence)
    if data is None:
        return []
    problems = _problems(data, cfg)
    if not problems:
        return []
    titles = [p[0] for p in problems]
    _, value, threshold, unit = problems[0]
    return [
        finding(
            "frontend.slow_assets",
            data.url,
            f"{data.url}: " + "; ".join(titles),
            value=value,
            threshold=threshold,
            unit=unit,
            level=Level.CRITICAL if data.page_status >= 400 else None,
            evidence=_evidence(data),
            actions=_actions(data, cfg),
        )
    ]


def _problems(data: FrontendEvidence, cfg: Config) -> list[tuple[str, float, float, str]]:
    """(title, value, threshold, unit) for each problem, most serious first."""
    th = cfg.thresholds
    out = []
    if data.page_status >= 400:
        out.append((f"the page answers {data.page_status}", float(data.page_status), 400.0, "HTTP status"))
    if data.failed:
        out.append(
            (
                f"{len(data.failed)} of {data.assets_fetched} assets fail ({_names(data.failed)})",
                float(len(data.failed)),
                0.0,
                "failed assets",
            )
        )
    slowest = data.slowest[0] if data.slowest else None
    timed_out = slowest is not None and slowest.error is not None  # it took at least its timeout
    if (
        slowest is not None
        and slowest.duration_s is not None
        and (slowest.duration_s > th.asset_s or (timed_out and slowest.duration_s >= th.asset_s))
    ):
        took = f"{slowest.duration_s:.2f} s" + (" or more (timed out)" if timed_out else "")
        out.append(
            (
                f"slowest asset {_short(slowest.url)} takes {took} (limit {th.asset_s:g} s){_size_text(slowest)}",
                slowest.duration_s,
                th.asset_s,
                "s",
            )
        )
    weight_mb = data.total_bytes / MB
    if weight_mb > th.page_weight_mb:
        heaviest = data.heaviest[0] if data.heaviest else None
        of_it = f"; heaviest {_short(heaviest.url)}{_size_text(heaviest)}" if heaviest is not None else ""
        out.append(
            (
                f"page weight {weight_mb:.1f} MB (limit {th.page_weight_mb:g} MB{of_it})",
                round(weight_mb, 3),
                th.page_weight_mb,
                "MB",
            )
        )
    return out


def _size_text(a: AssetTiming) -> str:
    """`` 8.0 MB`` and, when the body did not arrive whole, how much did: `` 8.0 MB declared, 0.9 MB received``."""
    if not a.size_bytes:
        return ""
    if a.declared_bytes is not None and a.seen_bytes < a.declared_bytes:
        return f", {a.declared_bytes / MB:.1f} MB declared, {a.seen_bytes / MB:.1f} MB received"
    return f", {a.size_bytes / MB:.1f} MB"


def _evidence(data: FrontendEvidence) -> dict[str, Any]:
    return {
        "page_status": data.page_status,
        "page_s": data.page_s,
        "total_bytes": data.total_bytes,
        "assets_found": data.assets_found,
        "assets_fetched": data.assets_fetched,
        "slowest": [_asset(a) for a in data.slowest[:3]],
        "heaviest": [_asset(a) for a in data.heaviest[:3]],
        "failed": [_asset(a) for a in data.failed[:10]],
    }


def _asset(a: AssetTiming) -> dict[str, Any]:
    return {
        "url": a.url,
        "status": a.status,
        "duration_s": a.duration_s,
        "size_bytes": a.size_bytes,
        "declared_bytes": a.declared_bytes,
        "seen_bytes": a.seen_bytes,
        "error": a.error,
    }


def _actions(data: FrontendEvidence, cfg: Config) -> list[Action]:
    assets = data.failed or data.slowest or data.heaviest
    target = assets[0] if assets else None
    url = target.url if target is not None else data.url
    timing = "%{http_code} %{size_download}B %{time_total}s\\n"
    actions = [
        Action(
            "manual.inspect_assets",
            "time the asset by hand: status, size, time",
            manual=f"curl -s -o /dev/null -w '{timing}' {shlex.quote(url)}",
        )
    ]
    if data.total_bytes / MB > cfg.thresholds.page_weight_mb:
        actions.append(
            Action(
                "manual.compress_assets",
                "check the assets are compressed and cached",
                manual=f"curl -sI -H 'Accept-Encoding: gzip, br' {shlex.quote(url)} "
                "| grep -iE 'content-(encoding|length)|cache-control'",
            )
        )
    return actions


def _names(assets: list[AssetTiming], most: int = 3) -> str:
    names = [_short(a.url) + (f" {a.error}" if a.error else f" {a.status}") for a in assets[:most]]
    return ", ".join(names) + (" …" if len(assets) > most else "")


def _short(url: str) -> str:
    """The path of an asset URL (``/static/app.js``), enough to name it in a title."""
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else url
