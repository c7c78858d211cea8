"""The public_text guard: each kind of internal detail is caught; plain words pass; lab incidents'
external texts are clean."""

from __future__ import annotations

import datetime as dt

import pytest

from lab_recordings import lab_names, lab_report
from perfbook.config import Config
from perfbook.incidents.model import Artifact, Impact, Incident, Status
from perfbook.notify.context import IncidentState
from perfbook.notify.public import Internals, LeakError, find_leaks, internals_of, public_text
from perfbook.notify.send import render_messages

LABS = lab_names()
KNOWN = Internals(
    tables=frozenset({"public.users", "users", "codexos_db"}),
    queries=frozenset({"SELECT id, name, email, created_at FROM users WHERE email = $1"}),
    hosts=frozenset({"web-1", "db-primary"}),
    pids=frozenset({23212}),
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("the index on public.users was dropped", "table"),
        ("reads of codexos_db are slow", "table"),
        ("queries FROM users are slow", "table"),
        ("SELECT id, name FROM accounts WHERE id = 1 is slow", "query"),
        ("slow statement: WHERE email = $1", "query"),
        ("web-1 is overloaded", "hostname"),
        ("see db.internal for details", "hostname"),
        ("localhost answers slowly", "hostname"),
        ("traffic from 10.0.3.17 spiked", "ip"),
        ("the server at fe80::1ff:fe23:4567:890a", "ip"),
        ("worker pid 4242 uses the CPU", "pid"),
        ("pytest[23212] is busy", "pid"),
        ("postgresql://app@db:5432/app is refusing", "dsn"),
        ("redis://127.0.0.1:6379/0 is full", "dsn"),
        ("host=db dbname=app user=x", "dsn"),
        ("finding pg.missing_index", "code"),
        ("http.slow_response on the API", "code"),
    ],
)
def test_each_internal_detail_is_caught(text: str, kind: str) -> None:
    assert kind in {leak.kind for leak in find_leaks(text, KNOWN)}
    with pytest.raises(LeakError):
        public_text(text, KNOWN)


@pytest.mark.parametrize(
    "text",
    [
        "Since 10:04 UTC, 1 Dec 2026 users may see slower responses than usual on API and Web app.",
        "Users of our service may wait longer for pages. We are investigating the cause.",
        "Next update by 11:04 UTC. See https://status.example.com for details.",
        "Some users may notice it. A fix is in place and we are watching the results.",
    ],
)
def test_plain_words_pass(text: str) -> None:
    assert public_text(text, KNOWN) == text


def _state(report: dict, status: Status = Status.INVESTIGATING) -> IncidentState:
    now = "2026-12-01T10:00:00Z"
    inc = Incident(
        7,
        report.get("severity_reason") or "slow",
        status,
        "P2",
        Impact.MINOR,
        "ana",
        now,
        now,
        now,
        "2026-12-01T11:00:00Z" if status is Status.RESOLVED else None,
        endpoints=["/api/v1/users", "/api/v1/agents"],
        components=["backend", "postgres", "frontend"],
    )
    return IncidentState(inc, [], [Artifact(1, "triage", now, "ana", "", report)], [])


@pytest.mark.parametrize("lab", LABS)
@pytest.mark.parametrize("event", ["detected", "update", "resolved", "customer"])
def test_external_texts_of_lab_incidents_name_no_internals(lab: str, event: str) -> None:
    report = lab_report(lab)
    state = _state(report, Status.RESOLVED if event == "resolved" else Status.INVESTIGATING)
    cfg = Config.model_validate(
        {
            "status": {
                "components": [
                    {"name": "API", "endpoints": ["/api/v1/*"]},
                    {"name": "Web app", "layers": ["frontend"]},
                ]
            }
        }
    )
    msgs = render_messages(
        state, cfg, event, message=None, now=dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    )
    external = msgs["external"].subject + "\n" + msgs["external"].body
    assert find_leaks(external, internals_of([report])) == []
    assert "API" in external


def test_the_same_incidents_internal_message_does_name_them() -> None:
    """The guard is not blind: what internal readers get would be refused outside."""
    report = lab_report("slow")
    msgs = render_messages(
        _state(report),
        Config(),
        "detected",
        message=None,
        now=dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC),
    )
    assert {"code"} <= {leak.kind for leak in find_leaks(msgs["internal"].body, internals_of([report]))}


def test_a_message_naming_internals_stops_the_external_text() -> None:
    report = lab_report("seqscan")
    with pytest.raises(LeakError, match="table 'public.users'"):
        render_messages(
            _state(report),
            Config(),
            "update",
            message="index on public.users is back",
            now=dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC),
        )
    ok = render_messages(
        _state(report),
        Config(),
        "update",
        message="index on public.users is back",
        now=dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC),
        internal_only=True,
    )
    assert set(ok) == {"internal"} and "public.users" in ok["internal"].body


def test_internals_are_read_from_every_kind_of_artifact() -> None:
    load = {"target": "http://api.internal:8001/api/v1/agents", "rps": 240.0, "latency": {"p95_s": 0.04}}
    fix = {
        "action": "pg.terminate",
        "plan": {"statements": [{"pid": 4242, "query": "SELECT pg_terminate_backend(4242)"}]},
    }
    found = internals_of([load, fix, lab_report("seqscan")])
    assert "api.internal" in found.hosts and 4242 in found.pids
    assert "public.users" in found.tables and "SELECT pg_terminate_backend(4242)" in found.queries
