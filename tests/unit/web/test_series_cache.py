"""The Overview's sparkline cache gives the same points as reading the whole range, as samples keep arriving."""

from __future__ import annotations

from pathlib import Path

from perfbook.store import Store, kpi_samples
from perfbook.web.overview import cached_series


def _add(store: Store, start_s: float, end_s: float) -> None:
    rows = [
        {"at_s": t, "run_id": str(t), "kpi": "p95_s", "subject": "", "value": (t % 97) / 10, "count": 1}
        for t in range(int(start_s), int(end_s), 30)
    ]
    store.write(lambda conn: conn.execute(kpi_samples.insert(), rows))


def test_cached_buckets_match_a_full_read(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    now = 1_800_000_000.0
    _add(store, now - 86400, now)
    cache: dict = {}
    for _ in range(6):  # a refresh every 10 minutes, new samples in between
        full = cached_series(store, None, "day", ["p95_s"], since_s=now - 86400, now=now, bucket_s=1800)
        cached = cached_series(store, cache, "day", ["p95_s"], since_s=now - 86400, now=now, bucket_s=1800)
        # the first bucket is partial in a full read; the cache keeps it whole (it covers the day and a little)
        assert cached["p95_s"][1:] == full["p95_s"][1:] and cached["p95_s"][0].t_s == full["p95_s"][0].t_s
        assert len(cache) == 1
        _add(store, now, now + 600)
        now += 600
    store.close()
