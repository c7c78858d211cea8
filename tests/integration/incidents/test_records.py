"""The incident records in the store: evidence raises severity, adds what is affected, ticks and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfbook.errors import UsageError
from perfbook.incidents import records
from perfbook.store import Store


def report(severity: str, p95_s: float, endpoint: str = "/api/v1/users") -> dict:
    return {
        "severity": severity,
        "issue_types": ["high_response_time"],
        "kpis": {"p95_s": p95_s, "p95_subject": endpoint, "error_rate": 0.0},
        "causes": [{"summary": f"{endpoint} is slow"}],
        "findings": [
            {"code": "http.slow_response", "level": "critical", "subject": endpoint},
            {"code": "pg.missing_index", "level": "warning", "subject": "public.users"},
        ],
        "probes": {"http": {"status": "ok"}, "postgres": {"status": "ok"}},
    }


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path: Path):
    url = (
        f"sqlite:///{tmp_path / 'perfbook.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_dsn")
    )
    store = Store(url)
    yield store
    store.close()


def test_a_worse_triage_raises_severity_and_impact_a_better_one_never_lowers(store: Store) -> None:
    inc = records.open_incident(store, title="slow", actor="ana", severity="P3")
    done = records.attach(store, inc.number, "triage", report("P1", 6.0), actor="ana")
    assert "severity P3 → P1 (from triage #1)" in done.events
    records.attach(store, inc.number, "triage", report("P2", 3.0, "/api/v1/agents"), actor="ana")
    now = records.get_incident(store, inc.number)
    assert (now.severity, now.impact.value) == ("P1", "major")
    assert now.endpoints == ["/api/v1/agents", "/api/v1/users"] and now.components == ["backend", "postgres"]
    severity_events = [e for e in records.timeline(store, inc.number) if e.kind == "severity"]
    assert [(e.actor, e.data["from"], e.data["to"]) for e in severity_events] == [("perfbook", "P3", "P1")]


def test_contradicted_tick_gets_a_check_event(store: Store) -> None:
    inc = records.open_incident(store, title="slow", actor="ana", report=report("P2", 4.0))
    records.attach(store, inc.number, "triage", report("OK", 0.5), actor="ana")
    done = records.attach(store, inc.number, "triage", report("P2", 4.2), actor="ana")
    assert any(
        line.startswith("flagged 12 Response times improved: contradicted by triage #3")
        for line in done.events
    )
    item = records.checklist_of(store, inc.number)[11]
    assert (item.state, item.artifact, item.contradicted[:9]) == ("done", "triage #2", "triage #3")


def test_resolved_incidents_take_no_evidence_and_no_second_resolve(store: Store) -> None:
    inc = records.open_incident(store, title="slow", actor="ana", severity="P2")
    records.resolve(store, inc.number, actor="ana")
    with pytest.raises(UsageError, match="is resolved: evidence goes to open incidents"):
        records.attach(store, inc.number, "triage", report("P2", 3.0), actor="ana")
    with pytest.raises(UsageError, match="already resolved"):
        records.resolve(store, inc.number, actor="ana")
    # notes still welcome
    records.add_note(store, inc.number, "postmortem on Friday", actor="ana", followup=True)
    assert records.reopen(store, inc.number, actor="bo").status.value == "investigating"
    assert [e.kind for e in records.timeline(store, inc.number)] == ["opened", "resolved", "note", "reopened"]
