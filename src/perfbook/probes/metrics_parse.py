"""Prometheus maths on two scrapes, pure: parse the text format, diff counters, histogram_quantile.

What Prometheus' ``rate()`` and ``histogram_quantile()`` do, for one window between two scrapes:

    >>> histogram_quantile(0.95, [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (math.inf, 100.0)])
    (0.75, False)
    >>> histogram_quantile(0.95, [(0.1, 10.0), (1.0, 20.0), (math.inf, 100.0)])
    (1.0, True)

The second answer is "over the top bound": the rank fell in ``+Inf``, so the value is only known
to be above 1.0 s. Inside a coarse bucket the interpolation is a guess, and the honest figure is
the bucket itself (:func:`coarse_bucket`): express-prom-bundle's default 1.5–10 s bucket turns a
2.5 s route into 9.6 s by interpolation, where all the histogram knows is "between 1.5 and 10 s". Works on
samples, not on ``# TYPE`` lines, so pages without metadata still parse.
"""

from __future__ import annotations

import io
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

HANDLER_LABELS = ("handler", "path", "endpoint", "route", "uri", "url_rule")  # spellings of common libraries
STATUS_LABELS = ("status", "code", "status_code")
METHOD_LABELS = ("method", "http_method")

SeriesId = tuple[str, tuple[tuple[str, str], ...]]  # (sample name, sorted labels)


@dataclass
class Page:
    """One parsed scrape: every sample by series id, and the lines that could not be parsed."""

    values: dict[SeriesId, float] = field(default_factory=dict)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (1-based line number, text)
    skipped: int = 0  # sample lines whose name ``keep`` did not want
    cut_at_line: int | None = None  # the parse stopped at its time limit before this line


def parse_page(
    text: str,
    keep: Callable[[str], bool] | None = None,
    *,
    stop_at: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Page:
    r"""Parse a Prometheus text page; malformed lines are left out and listed, never raised.

    ``keep`` chooses samples by name before their labels are read (the metrics probe keeps only
    request metrics, so a page of 100,000 unrelated series costs a string split per line). A line
    is read by a plain regex (about 3 µs); one it does not know goes to prometheus_client's parser,
    the reference (about 80 µs and 1 KB a sample: too slow and too big for whole pages in budget).
    ``stop_at`` (a ``clock()`` value) ends the parse there: ``cut_at_line`` says where.

    >>> page = parse_page('# TYPE a counter\na_total{x="1",y="a\\"b"} 3 1700000000\nb 2\n', keep=lambda n: n != "b")
    >>> page.values
    {('a_total', (('x', '1'), ('y', 'a"b'))): 3.0}
    """
    page = Page()
    values = page.values
    shared: dict[Any, Any] = {}  # one object per distinct label pair and label set: pages repeat them
    for number, line in enumerate(io.StringIO(text), start=1):
        if stop_at is not None and number % 2048 == 0 and clock() >= stop_at:
            page.cut_at_line = number
            break
        line = line.rstrip("\n")
        if not line or line[0] == "#" or line.isspace():
            continue
        name = _NAME.match(line)
        if name is not None and keep is not None and not keep(name.group(0)):
            page.skipped += 1
            continue
        sample = _fast_sample(line, shared) or _reference_sample(line)
        if sample is None:
            page.bad_lines.append((number, line.strip()[:120]))
            continue
        if keep is None or name is not None or keep(sample[0][0]):  # a readable name was judged above
            values[sample[0]] = sample[1]
    return page


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+([^ \t]+)(?:[ \t]+-?[0-9]+)?[ \t]*\r?")
_ONE_LABEL = r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*'
_LABEL = re.compile(_ONE_LABEL)
_LABELS = re.compile(rf"(?:{_ONE_LABEL},)*(?:{_ONE_LABEL})?[ \t]*")
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _fast_sample(line: str, shared: dict[Any, Any]) -> tuple[SeriesId, float] | None:
    m = _SAMPLE.fullmatch(line)
    if m is None:
        return None
    try:
        value = float(m.group(3))
    except ValueError:
        return None
    text = m.group(2) or ""
    if text and _LABELS.fullmatch(text) is None:  # one C-level check, then one findall: no Python loop
        return None
    labels: list[tuple[str, str]] = []
    for name, raw in _LABEL.findall(text):
        if "\\" in raw:
            raw = re.sub(r"\\[\\\"n]", lambda e: _ESCAPES[e.group(0)], raw)
        pair = (name, raw)
        labels.append(shared.setdefault(pair, pair))
    key = tuple(sorted(labels))
    return (sys.intern(m.group(1)), shared.setdefault(key, key)), value


def _reference_sample(line: str) -> tuple[SeriesId, float] | None:
    """One line through prometheus_client's parser: the exact answer for what the regex does not know."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        samples = [s for family in text_string_to_metric_families(line + "\n") for s in family.samples]
    except ValueError:
        return None
    if len(samples) != 1:
        return None
    s = samples[0]
    return (s.name, tuple(sorted(s.labels.items()))), float(s.value)


def counter_deltas(
    start: Page, end: Page, names: Iterable[str]
) -> tuple[dict[SeriesId, float], set[SeriesId]]:
    """Window deltas of the series named ``names``, and the series whose counter went down.

    A series that went down was reset (restart, or another worker answered the scrape): it is
    left out of the deltas rather than turned into a negative or a made-up rate. A series that
    appears only in the end scrape started during the window, from zero.
    """
    wanted = set(names)
    deltas: dict[SeriesId, float] = {}
    resets: set[SeriesId] = set()
    for sid, value in end.values.items():
        if sid[0] not in wanted:
            continue
        delta = value - start.values.get(sid, 0.0)
        if delta < 0:
            resets.add(sid)
        else:
            deltas[sid] = delta
    return deltas, resets


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> tuple[float | None, bool]:
    """Prometheus' histogram_quantile over ``(upper_bound, cumulative_count)`` pairs.

    Returns ``(value, over_bound)``: linear interpolation inside the bucket the rank falls in
    (the first bucket starts at 0); when it falls in ``+Inf`` the value is the top finite bound
    and ``over_bound`` is True. ``(None, False)`` without observations or without ``+Inf``.
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or ordered[-1][0] != math.inf or ordered[-1][1] <= 0:
        return None, False
    ordered = _monotonic(ordered)
    rank = q * ordered[-1][1]
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    upper, count = ordered[index]
    if upper == math.inf:
        return ordered[-2][0], True
    if index == 0:
        if upper <= 0:
            return upper, False
        lower, below = 0.0, 0.0
    else:
        lower, below = ordered[index - 1]
    if count == below:
        return upper, False
    return lower + (upper - lower) * (rank - below) / (count - below), False


# a bucket whose upper bound is more than twice its lower one is too wide to interpolate in
COARSE_RATIO = 2.0


def quantile_bucket(q: float, buckets: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The finite ``(lower, upper)`` bounds of the bucket the ``q`` rank falls in (the first bucket
    starts at 0); None without observations or when the rank falls in ``+Inf``.

    >>> quantile_bucket(0.95, [(1.5, 0.0), (10.0, 20.0), (math.inf, 20.0)])
    (1.5, 10.0)
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or ordered[-1][0] != math.inf or ordered[-1][1] <= 0:
        return None
    ordered = _monotonic(ordered)
    rank = q * ordered[-1][1]
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    upper = ordered[index][0]
    if upper == math.inf:
        return None
    return (ordered[index - 1][0] if index else 0.0), upper


def coarse_bucket(q: float, buckets: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The bucket of the ``q`` rank when its bounds are more than COARSE_RATIO apart, else None.

    >>> coarse_bucket(0.95, [(1.5, 0.0), (10.0, 20.0), (math.inf, 20.0)])
    (1.5, 10.0)
    >>> coarse_bucket(0.95, [(2.0, 0.0), (2.5, 20.0), (math.inf, 20.0)]) is None
    True
    """
    bucket = quantile_bucket(q, buckets)
    if bucket is None or bucket[1] <= bucket[0] * COARSE_RATIO:
        return None
    return bucket


def _monotonic(ordered: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Cumulative counts can dip from scrape skew between buckets; Prometheus flattens them too."""
    out, highest = [], 0.0
    for upper, count in ordered:
        highest = max(highest, count)
        out.append((upper, highest))
    return out


def le_bound(text: str) -> float:
    """``"+Inf"`` -> inf, ``"0.25"`` -> 0.25 (the ``le`` label of a bucket)."""
    return math.inf if text.strip().lower() in ("+inf", "inf") else float(text)


def label(labels: dict[str, str], spellings: Sequence[str]) -> str | None:
    """The first of ``spellings`` present in ``labels``.

    >>> label({"path": "/a", "code": "500"}, HANDLER_LABELS)
    '/a'
    """
    return next((labels[k] for k in spellings if k in labels), None)


def is_5xx(status: str | None) -> bool:
    """True for ``"503"``, ``"5xx"``, ``"5XX"``.

    >>> is_5xx("503"), is_5xx("5xx"), is_5xx("404"), is_5xx(None)
    (True, True, False, False)
    """
    return status is not None and status.strip().startswith("5")


def histogram_bases(page: Page) -> list[str]:
    """Names of every histogram in the page (``x`` for ``x_bucket{le=...}`` samples), sorted."""
    return sorted(
        {
            name[: -len("_bucket")]
            for name, labels in page.values
            if name.endswith("_bucket") and any(k == "le" for k, _ in labels)
        }
    )


def is_request_metric(name: str) -> bool:
    """A sample the metrics probe reads: of a request-duration histogram, or an HTTP requests counter.

    >>> [is_request_metric(n) for n in ("http_request_duration_seconds_bucket", "http_requests_total",
    ...  "process_cpu_seconds_total", "db_query_seconds_count")]
    [True, True, False, False]
    """
    if name.endswith("requests_total"):
        return "http" in name
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if name.endswith(suffix):
            return is_request_duration(name[: -len(suffix)])
    return False


def is_request_duration(base: str) -> bool:
    """A histogram of HTTP request durations, in the names common instrumentation uses.

    >>> [is_request_duration(n) for n in ("http_request_duration_seconds",
    ...  "http_request_duration_highr_seconds", "http_server_requests_seconds", "db_query_seconds")]
    [True, True, True, False]
    """
    name = base.lower()
    timed = "duration" in name or "latency" in name or name.endswith("requests_seconds")
    return timed and ("request" in name or "http" in name)


def unit_scale(base: str) -> float:
    """Seconds per unit of a histogram's bounds (``*_milliseconds`` / ``*_ms`` -> 0.001)."""
    return 0.001 if base.endswith(("_milliseconds", "_ms")) else 1.0
