"""What the Overview keeps between refreshes never changes what it shows: the same document as a read
with nothing kept, and a triage stored meanwhile is on the next refresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab_recordings import lab_report
from perfbook.config import Config
from perfbook.incidents import artifacts
from perfbook.store import Store, kpi_samples
from perfbook.web.overview import overview

NOW_S = 1_800_000_000.0


def _samples(store: Store) -> None:
    rows = [
        {
            "at_s": NOW_S - k * 30,
            "run_id": f"r{k}",
            "kpi": kpi,
            "subject": "",
            "value": 0.5 + (k % 50) / 100,
            "count": 100,
        }
        for k in range(2 * 2880)
        for kpi in ("p95_s", "cpu_pct")
    ]
    store.write(lambda conn: conn.execute(kpi_samples.insert(), rows))


def _shown(doc: dict[str, Any]) -> dict[str, Any]:
    """The document less the sparklines (the series cache keeps a range's first bucket whole, where a
    full read cuts it: tests/unit/web/test_series_cache.py)."""
    return {**doc, "kpis": [{k: v for k, v in row.items() if k != "sparklines"} for row in doc["kpis"]]}


def test_the_kept_overview_is_the_read_one_and_a_new_triage_shows_at_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    cfg = Config()
    _samples(store)
    first = artifacts.keep(store, "triage", lab_report("slow"), actor="test")
    cache: dict[str, Any] = {}
    for now in (NOW_S, NOW_S + 5, NOW_S + 65):  # refreshes, one past a bucket's end
        kept = overview(cfg, store, now=now, cache=cache)
        assert _shown(kept) == _shown(overview(cfg, store, now=now, cache=None))
        assert kept["triage"]["id"] == first
    assert "no samples" not in kept["kpis"][0]["sparklines"]["hour"]["svg"]

    second = artifacts.keep(store, "watch", lab_report("healthy"), actor="test")
    kept = overview(cfg, store, now=NOW_S + 70, cache=cache)
    assert _shown(kept) == _shown(overview(cfg, store, now=NOW_S + 70, cache=None))
    assert (kept["triage"]["id"], kept["triage"]["kind"]) == (second, "watch")
    assert kept["triage"]["severity"] == lab_report("healthy")["severity"]
    store.close()
