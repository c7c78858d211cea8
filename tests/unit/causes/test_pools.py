"""Joins: slow endpoints ↔ PgBouncer's pool (recorded: 18 clients queued on a pool of 2), only through the
endpoint's database."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from causes_stack import handler, healthy, keys, metrics_ev

from perfbook.evidence.pgbouncer import PgbouncerEvidence
from perfbook.model import Evidence, from_jsonable

RECORDING = Path(__file__).resolve().parents[2] / "fixtures" / "evidence" / "pgbouncer_exhausted.json"


def pool_ev(database: str = "codexos_db") -> Evidence:
    raw = json.loads(RECORDING.read_text())
    data = from_jsonable(PgbouncerEvidence, raw["data"])
    data.pools = [replace(p, database=database) for p in data.pools]
    return Evidence("pgbouncer", "ok", raw["duration_s"], data=data)


def slow_users(database: str = "codexos_db") -> dict[str, Evidence]:
    ev = healthy()
    ev["pgbouncer"] = pool_ev(database)
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 2.6), handler("/api/v1/agents"))
    return ev


def test_a_slow_route_on_the_pooled_database_is_explained_by_the_queue(split):
    _, ranked, _ = split(slow_users())
    top = ranked[0]
    assert top.layer == "pgbouncer" and "pgbouncer.pool_exhausted:codexos_db/postgres" in top.findings
    assert "http.slow_response:/api/v1/users" in keys(top)
    assert "requests queue in PgBouncer" in top.summary and "18 client(s) wait" in top.summary
    assert top.action is not None and top.action.id == "pgbouncer.raise_pool_size"
    assert top.confidence >= 0.6


def test_a_pool_of_another_database_explains_nothing_and_is_only_also_seen(split):
    _, ranked, also = split(slow_users(database="billing"))
    assert not any("pgbouncer.pool_exhausted:billing/postgres" in c.findings for c in ranked)
    (seen,) = [c for c in also if c.layer == "pgbouncer"]
    assert "not linked to" in seen.reasons[-1]


def test_without_a_symptom_the_pool_is_still_the_cause_named(rank):
    ev = healthy()
    ev["pgbouncer"] = pool_ev()
    _, causes = rank(ev)
    assert causes[0].layer == "pgbouncer" and not any(k.startswith("http.") for k in causes[0].findings)
