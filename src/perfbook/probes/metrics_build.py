"""From two parsed scrapes to the window figures per handler: requests, rate, p50/p95/p99, 5xx share.

Pure (no I/O): the metrics probe scrapes, this module computes, so the maths is unit-tested on
recorded pages. ``window_figures(start, end, elapsed_s, excluded={"/metrics", "/health"})``.

Which histogram: every request-duration histogram of the page is read (``metrics_parse.is_request_duration``).
``http_request_duration_seconds`` (or the family with the most handlers) is the primary one; when
its p95 falls in its ``+Inf`` bucket or in a coarse bucket (bounds more than 2x apart), a finer
family of the same requests is used instead (more buckets or a higher top bound, e.g.
``*_highr_seconds``). A quantile still in a coarse bucket is a range: ``p95_range_s`` holds the
bucket's bounds and ``p95_s`` its lower bound (what the histogram knows for sure). For the total, a family
without a handler
label counts perfbook's own scrapes too: one request per window, accepted for the finer bounds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from perfbook.evidence.metrics import HandlerWindow
from perfbook.probes.metrics_parse import (
    HANDLER_LABELS,
    METHOD_LABELS,
    STATUS_LABELS,
    Page,
    coarse_bucket,
    counter_deltas,
    histogram_bases,
    histogram_quantile,
    is_5xx,
    is_request_duration,
    label,
    le_bound,
    unit_scale,
)

Key = tuple[str | None, str | None]  # (handler, method); handler None: a family without that label
MAX_RESET_NOTES = 10


@dataclass
class Family:
    """One histogram's window deltas grouped by (handler, method)."""

    base: str
    buckets: dict[Key, dict[float, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    errors: dict[Key, float] = field(default_factory=lambda: defaultdict(float))
    has_status: bool = False

    def bounds(self) -> list[float]:
        """The finite bucket bounds (s) of this family."""
        return sorted({b for per_key in self.buckets.values() for b in per_key if b != math.inf})


@dataclass
class Counter:
    """The requests counter's window deltas: totals and 5xx per (handler, method)."""

    name: str
    totals: dict[Key, float] = field(default_factory=lambda: defaultdict(float))
    errors: dict[Key, float] = field(default_factory=lambda: defaultdict(float))


@dataclass
class Window:
    """What :func:`window_figures` found; the probe copies it into MetricsEvidence."""

    handlers: list[HandlerWindow]
    total: HandlerWindow | None
    families: list[str]
    notes: list[str]
    reset_series: list[str]


def window_figures(start: Page, end: Page, elapsed_s: float, excluded: set[str]) -> Window:
    """Per-handler and total window figures from two scrapes ``elapsed_s`` apart."""
    resets: list[str] = []
    families = [
        _family(start, end, base, resets) for base in histogram_bases(end) if is_request_duration(base)
    ]
    counter = _counter(start, end, resets)
    primary = _primary(families)
    notes = []
    if primary is None:
        notes.append("no request-duration histogram (http_request_duration_seconds): no window quantiles")
    if counter is None and not (primary and primary.has_status):
        notes.append("no http_requests_total counter and no status label: 5xx share unknown")
    keys = {k for k in (primary.buckets if primary else {}) if k[0] is not None}
    keys |= {k for k in (counter.totals if counter else {}) if k[0] is not None}
    handlers = [
        h
        for k in sorted(keys, key=_sort_key)
        if (h := _handler(k, families, primary, counter, elapsed_s)).requests > 0
    ]
    total = _total(families, primary, counter, elapsed_s, excluded)
    used = [f.base for f in families] + ([counter.name] if counter else [])
    return Window(handlers, total, used, notes, sorted(set(resets))[:MAX_RESET_NOTES])


def _family(start: Page, end: Page, base: str, resets: list[str]) -> Family:
    fam = Family(base)
    scale = unit_scale(base)
    deltas, reset_ids = counter_deltas(start, end, [f"{base}_bucket", f"{base}_count"])
    reset_keys = {_key(dict(labels)) for _, labels in reset_ids}
    resets += [_series_text(base, key) for key in reset_keys]
    for (name, labels), delta in deltas.items():
        lab = dict(labels)
        key = _key(lab)
        if key in reset_keys:
            continue
        status = label(lab, STATUS_LABELS)
        fam.has_status |= status is not None
        if name.endswith("_bucket"):
            bound = le_bound(lab["le"])
            fam.buckets[key][bound * scale if bound != math.inf else bound] += delta
        elif is_5xx(status):
            fam.errors[key] += delta
    return fam


def _counter(start: Page, end: Page, resets: list[str]) -> Counter | None:
    names = {name for name, _ in end.values}
    name = "http_requests_total" if "http_requests_total" in names else None
    name = name or next((n for n in sorted(names) if n.endswith("requests_total") and "http" in n), None)
    if name is None:
        return None
    counter = Counter(name)
    deltas, reset_ids = counter_deltas(start, end, [name])
    reset_keys = {_key(dict(labels)) for _, labels in reset_ids}
    resets += [_series_text(name, key) for key in reset_keys]
    for (_, labels), delta in deltas.items():
        lab = dict(labels)
        key = _key(lab)
        if key in reset_keys:
            continue
        counter.totals[key] += delta
        if is_5xx(label(lab, STATUS_LABELS)):
            counter.errors[key] += delta
    return counter


def _primary(families: list[Family]) -> Family | None:
    for fam in families:
        if fam.base == "http_request_duration_seconds":
            return fam
    with_handlers = [f for f in families if any(k[0] is not None for k in f.buckets)]
    pool = with_handlers or families
    return max(pool, key=lambda f: (len(f.buckets), -len(f.bounds())), default=None)


def _handler(
    key: Key, families: list[Family], primary: Family | None, counter: Counter | None, elapsed_s: float
) -> HandlerWindow:
    hw = HandlerWindow(handler=key[0] or "*", method=key[1], requests=0, rate_rps=0.0)
    candidates = [f for f in families if key in f.buckets]
    buckets, base = _best_buckets([(f, f.buckets[key]) for f in candidates], primary)
    _fill(hw, buckets, base, elapsed_s)
    errors_from = counter if counter is not None and key in counter.totals else None
    if errors_from is not None:
        hw.requests = hw.requests or int(round(errors_from.totals[key]))
        _errors(hw, errors_from.errors.get(key, 0.0), errors_from.totals[key], elapsed_s)
    elif primary is not None and primary.has_status and key in primary.buckets:
        _errors(hw, primary.errors.get(key, 0.0), hw.requests, elapsed_s)
    return hw


def _total(
    families: list[Family],
    primary: Family | None,
    counter: Counter | None,
    elapsed_s: float,
    excluded: set[str],
) -> HandlerWindow | None:
    if primary is None and counter is None:
        return None
    hw = HandlerWindow(handler="*", method=None, requests=0, rate_rps=0.0)
    summed = [(f, _sum_buckets(f, excluded)) for f in families]
    buckets, base = _best_buckets([(f, b) for f, b in summed if b], primary)
    _fill(hw, buckets, base, elapsed_s)
    if primary is not None:  # requests from the primary, which can leave perfbook's scrapes out
        hw.requests = int(round(_sum_buckets(primary, excluded).get(math.inf, 0.0)))
        hw.rate_rps = round(hw.requests / elapsed_s, 3) if elapsed_s > 0 else 0.0
    if counter is not None:
        kept = [k for k in counter.totals if k[0] not in excluded]
        requests = sum(counter.totals[k] for k in kept)
        hw.requests = hw.requests or int(round(requests))
        _errors(hw, sum(counter.errors.get(k, 0.0) for k in kept), requests, elapsed_s)
    elif primary is not None and primary.has_status:
        _errors(hw, sum(v for k, v in primary.errors.items() if k[0] not in excluded), hw.requests, elapsed_s)
    return hw


def _sum_buckets(fam: Family, excluded: set[str]) -> dict[float, float]:
    out: dict[float, float] = defaultdict(float)
    for key, per_bound in fam.buckets.items():
        if key[0] in excluded:
            continue
        for bound, count in per_bound.items():
            out[bound] += count
    return dict(out)


def _best_buckets(
    options: list[tuple[Family, dict[float, float]]], primary: Family | None
) -> tuple[dict[float, float], str | None]:
    """The primary's buckets, unless its p95 is over its top bound or in a coarse bucket and a
    finer family of these requests places it better."""
    usable = [(f, b) for f, b in options if b.get(math.inf, 0.0) > 0]
    if not usable:
        return {}, None
    usable.sort(key=lambda fb: fb[0] is not primary)  # primary first
    first_fam, first = usable[0]
    if _resolution(first) == (False, 0.0):
        return first, first_fam.base
    finer = [(f, b) for f, b in usable[1:] if _top_bound(b) > _top_bound(first) or len(b) > len(first)]
    better = sorted(
        (fb for fb in finer if _resolution(fb[1]) < _resolution(first)), key=lambda fb: _resolution(fb[1])
    )
    pick = (better or [usable[0]])[0]
    return pick[1], pick[0].base


def _resolution(buckets: dict[float, float]) -> tuple[bool, float]:
    """How well a histogram places its p95, smaller is better: (over its top bound, the width ratio
    of a coarse bucket holding it, 0.0 when the bucket is fine enough to interpolate in)."""
    pairs = list(buckets.items())
    if histogram_quantile(0.95, pairs)[1]:
        return True, 0.0
    coarse = coarse_bucket(0.95, pairs)
    if coarse is None:
        return False, 0.0
    return False, (coarse[1] / coarse[0] if coarse[0] > 0 else math.inf)


def _top_bound(buckets: dict[float, float]) -> float:
    return max((b for b in buckets if b != math.inf), default=0.0)


def _fill(hw: HandlerWindow, buckets: dict[float, float], base: str | None, elapsed_s: float) -> None:
    if not buckets:
        return
    pairs = list(buckets.items())
    hw.histogram = base
    hw.requests = int(round(buckets.get(math.inf, 0.0)))
    hw.rate_rps = round(hw.requests / elapsed_s, 3) if elapsed_s > 0 else 0.0
    hw.p50_s, _, hw.p50_range_s = _quantile(0.50, pairs)
    hw.p95_s, hw.p95_over_bound, hw.p95_range_s = _quantile(0.95, pairs)
    hw.p99_s, hw.p99_over_bound, hw.p99_range_s = _quantile(0.99, pairs)


def _quantile(q: float, pairs: list[tuple[float, float]]) -> tuple[float | None, bool, list[float] | None]:
    """(figure, over the top bound, range): in a coarse bucket the figure is the bucket's lower bound
    and the range its bounds, never a number interpolated inside it."""
    value, over = histogram_quantile(q, pairs)
    coarse = None if value is None or over else coarse_bucket(q, pairs)
    if coarse is not None:
        low, high = round(coarse[0], 6), round(coarse[1], 6)
        return low, False, [low, high]
    return _round(value), over, None


def _errors(hw: HandlerWindow, errors: float, requests: float, elapsed_s: float) -> None:
    hw.errors_5xx = int(round(errors))
    hw.error_share = round(errors / requests, 6) if requests > 0 else None
    if not hw.requests:
        hw.requests = int(round(requests))
        hw.rate_rps = round(requests / elapsed_s, 3) if elapsed_s > 0 else 0.0


def _key(labels: dict[str, str]) -> Key:
    return label(labels, HANDLER_LABELS), label(labels, METHOD_LABELS)


def _sort_key(key: Key) -> tuple[str, str]:
    return key[0] or "", key[1] or ""


def _series_text(name: str, key: Key) -> str:
    parts = [f'handler="{key[0]}"' if key[0] is not None else "", f'method="{key[1]}"' if key[1] else ""]
    return name + "{" + ",".join(p for p in parts if p) + "}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
