"""The store's watch tables: 5-minute aggregates from the raw samples, retention, alert states resumed whole."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from perfbook.alerts.rules import effective_rules
from perfbook.alerts.state import AlertState
from perfbook.config import Config
from perfbook.store import Store, kpi_aggregates, kpi_samples, watch_runs
from perfbook.store.history import kpi_series
from perfbook.watch import records

DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The same tables on SQLite (the default) and on a private PostgreSQL (a team's store)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'perfbook.db'}"
    else:
        url = request.getfixturevalue("pg_dsn").replace("postgresql://", "postgresql+psycopg://", 1)
    s = Store(url)
    yield s
    s.close()


def _run(store: Store, at_s: float, value: float) -> None:
    run_id = f"r{at_s}"
    records.save_run(
        store,
        {
            "run_id": run_id,
            "started_at_s": at_s,
            "duration_s": 1.0,
            "severity": "OK",
            "findings": [],
            "probes": {},
        },
        [{"at_s": at_s, "run_id": run_id, "kpi": "p95_s", "subject": "", "value": value, "count": 30}],
        now=at_s,
        raw_retention_s=DAY,
        aggregate_retention_s=30 * DAY,
    )


def _all(store: Store, table):
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(table))])


def test_aggregates_follow_the_raw_samples_and_outlive_them(store):
    t0 = 1_800_000_000.0 - 1_800_000_000.0 % 300
    for i, value in enumerate((1.0, 3.0, 2.0)):  # one bucket, three runs 30 s apart
        _run(store, t0 + 30 * i, value)
    (agg,) = _all(store, kpi_aggregates)
    assert (agg["bucket_start_s"], agg["samples"], agg["min"], agg["max"], agg["mean"], agg["last"]) == (
        t0,
        3,
        1.0,
        3.0,
        2.0,
        2.0,
    )
    # a day later: the old raw samples and runs are pruned, the aggregate stays
    _run(store, t0 + DAY + 600, 5.0)
    assert [r["value"] for r in _all(store, kpi_samples)] == [5.0]
    assert len(_all(store, watch_runs)) == 1 and len(_all(store, kpi_aggregates)) == 2
    series = kpi_series(store, ["p95_s"], since_s=t0, until_s=t0 + 2 * DAY, bucket_s=3600)["p95_s"]
    assert [(p.mean, p.samples) for p in series] == [(2.0, 3), (5.0, 1)]  # the dashboard reads both
    _run(store, t0 + 32 * DAY, 1.0)
    assert [a["bucket_start_s"] for a in _all(store, kpi_aggregates)] == [t0 + 32 * DAY]


def test_alert_states_come_back_exactly_and_silences_end(store):
    st = AlertState(
        "HighResponseTime",
        "/api/v1/users",
        "firing",
        active_since=10.0,
        last_held_at=40.0,
        fired_at=20.0,
        value=2.5,
        threshold=2.0,
        labels={"backend": "http://127.0.0.1:1"},
        notified_at=20.0,
        repeats=1,
    )
    records.save_states(store, [st], effective_rules(Config()), now=40.0)
    assert records.load_states(store) == [st]
    (row,) = records.list_alerts(store)
    assert (
        row["annotations"]["summary"].startswith("p95") or "HighResponseTime" in row["annotations"]["summary"]
    )
    sid = records.add_silence(
        store, rule="HighResponseTime", subject=None, starts_at_s=0.0, ends_at_s=100.0, created_by="ana"
    )
    assert [s.id for s in records.active_silences(store, now=50.0)] == [str(sid)]
    records.expire_silence(store, sid, now=60.0)
    assert records.active_silences(store, now=61.0) == []
    records.save_states(store, [], effective_rules(Config()), now=70.0)
    assert records.load_states(store) == []
