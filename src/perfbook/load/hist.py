"""Latency histograms: HdrHistogram (hdrh) in microseconds, recorded in batches, merged across workers.

The hot path appends float seconds to a list; :func:`record_batch` moves a batch into a histogram.
With numpy the bucket index is computed vectorised (≈ 50 ns a value instead of ≈ 1.5 µs for
``record_value``), giving exactly the counts ``record_value`` would.
"""

from __future__ import annotations

from collections.abc import Sequence

from hdrh.histogram import HdrHistogram

try:  # numpy comes with the plot extra; without it we fall back to hdrh's own record_value
    import numpy as np
except ImportError:  # pragma: no cover - exercised only in a no-extras install
    np = None  # type: ignore[assignment]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: any latency a load test can see
SIGNIFICANT_FIGURES = 3
PERCENTILES = (("p50_s", 50.0), ("p90_s", 90.0), ("p95_s", 95.0), ("p99_s", 99.0), ("p999_s", 99.9))


def new_histogram() -> HdrHistogram:
    """An empty latency histogram (µs, 1 µs .. 1 h, 3 significant figures)."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def record_batch(hist: HdrHistogram, latencies_s: Sequence[float]) -> None:
    """Record latencies given in seconds (clamped to the histogram's range)."""
    if not latencies_s:
        return
    if np is None:
        for value in latencies_s:
            hist.record_value(min(max(int(value * 1e6), LOWEST_US), HIGHEST_US))
        return
    values = np.clip(
        (np.asarray(latencies_s, dtype=np.float64) * 1e6).astype(np.int64), LOWEST_US, HIGHEST_US
    )
    # Same arithmetic as HdrHistogram._counts_index_for, on arrays (frexp's exponent = bit length).
    _, bit_length = np.frexp((values | hist.sub_bucket_mask).astype(np.float64))
    bucket = bit_length - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + hist.unit_magnitude)
    index = ((bucket + 1) << hist.sub_bucket_half_count_magnitude) + sub_bucket - hist.sub_bucket_half_count
    counts = np.frombuffer(hist.counts, dtype=np.int64)
    counts += np.bincount(index, minlength=len(counts))[: len(counts)]
    hist.total_count += len(values)
    hist.min_value = min(hist.min_value, int(values.min()))
    hist.max_value = max(hist.max_value, int(values.max()))


def encode(hist: HdrHistogram) -> str:
    """A compact base64 form for sending a histogram between processes or saving it."""
    return hist.encode().decode("ascii") if hist.get_total_count() else ""


def decode_into(hist: HdrHistogram, encoded: str) -> None:
    """Add an :func:`encode` d histogram into ``hist`` (merging workers)."""
    if encoded:
        hist.add(HdrHistogram.decode(encoded.encode("ascii")))


def latency_summary(hist: HdrHistogram) -> dict[str, float | None]:
    """mean, percentiles and max in seconds; all ``None`` when nothing was recorded.

    Same values as hdrh's ``get_mean_value`` / ``get_value_at_percentile``, computed on the
    counts array at once (hdrh walks its ~23,000 buckets in Python for each one).
    """
    keys = ["mean_s", *(name for name, _ in PERCENTILES), "max_s"]
    total = hist.get_total_count()
    if total == 0:
        return dict.fromkeys(keys)
    if np is None:
        mean_us = hist.get_mean_value()
        values_us = [hist.get_value_at_percentile(pct) for _, pct in PERCENTILES]
    else:
        mean_us, values_us = _summary_np(hist, total)
    out: dict[str, float | None] = {"mean_s": round(mean_us / 1e6, 6)}
    for (name, _), value_us in zip(PERCENTILES, values_us, strict=True):
        out[name] = round(value_us / 1e6, 6)
    out["max_s"] = round(hist.get_max_value() / 1e6, 6)
    return out


def _summary_np(hist: HdrHistogram, total: int) -> tuple[float, list[int]]:
    counts = np.frombuffer(hist.counts, dtype=np.int64)
    index = np.arange(len(counts), dtype=np.int64)
    half, half_mag, unit = (
        hist.sub_bucket_half_count,
        hist.sub_bucket_half_count_magnitude,
        hist.unit_magnitude,
    )
    bucket = (index >> half_mag) - 1
    sub_bucket = (index & (half - 1)) + half
    first = bucket < 0
    sub_bucket[first] -= half
    bucket[first] = 0
    lowest = sub_bucket << (bucket + unit)
    size = np.left_shift(1, unit + bucket)
    mean_us = float((counts * (lowest + (size >> 1))).sum()) / total
    cumulative = np.cumsum(counts)
    values = []
    for _, pct in PERCENTILES:
        target = max(int(min(pct, 100.0) * total / 100 + 0.5), 1)
        at = int(np.searchsorted(cumulative, target, side="left"))
        values.append(int(lowest[at] + size[at] - 1))  # the highest value equivalent to that bucket
    return mean_us, values


def quick_percentiles(latencies_s: Sequence[float]) -> tuple[float | None, float | None]:
    """p50 and p99 of a small batch (the live view's last interval); no histogram needed."""
    if not latencies_s:
        return None, None
    step = len(latencies_s) // 4000 + 1  # a sample keeps the live view cheap at 100k rps
    ordered = sorted(latencies_s[::step])
    last = len(ordered) - 1
    return ordered[int(last * 0.50)], ordered[int(last * 0.99)]
