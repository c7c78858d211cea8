"""Pure parts of perfbook fix: session selection, verification, report walking, rendering, doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

from perfbook.fix.base import Outcome, Plan, VerifySpec
from perfbook.fix.from_report import recommended_fixes
from perfbook.fix.pg_sessions import select_sessions
from perfbook.fix.render import command_of, history_lines, outcome_lines, plan_lines, verify_lines
from perfbook.fix.verify import compare, merge_reports


def _session(pid: int, **kw) -> dict:
    base = {
        "pid": pid,
        "user": "app",
        "application": "api",
        "database": "app",
        "state": "active",
        "backend_type": "client backend",
        "backend_start": "2026-11-27 10:00:00+00",
        "age_s": 10.0,
        "query": "SELECT 1",
        "this_database": True,
        "blocking": False,
        "blocked": False,
    }
    return {**base, **kw}


SESSIONS = [
    _session(1, state="idle in transaction", age_s=400.0),
    _session(2, state="idle in transaction", age_s=5.0),
    _session(3, state="active", age_s=900.0, blocking=True),
    _session(4, backend_type="autovacuum worker", state="active", age_s=999.0, application=""),
    _session(5, backend_type="walsender", state="active", age_s=999.0, application=""),
    _session(6, application="perfbook", state="idle in transaction", age_s=999.0),
    _session(7, state="idle in transaction", age_s=999.0, this_database=False, database="other"),
    _session(8, application="perfbook fix", state="idle in transaction", age_s=999.0),
    _session(9, application="perfbook-lab-fault", state="idle in transaction", age_s=30.0, blocking=True),
]


def _values(**kw) -> dict:
    return {
        "pid": None,
        "older_than_s": None,
        "idle_in_transaction": False,
        "blocking": False,
        "all_databases": False,
        **kw,
    }


@pytest.mark.parametrize(
    ("values", "pids"),
    [
        (_values(idle_in_transaction=True, older_than_s=60), [1]),
        (_values(idle_in_transaction=True), [1, 9, 2]),
        (_values(older_than_s=300), [3, 1]),  # oldest first; autovacuum, walsender, perfbook, other db spared
        (_values(blocking=True), [3, 9]),  # the lab's lock holder is a workload, not perfbook
        (_values(idle_in_transaction=True, older_than_s=60, all_databases=True), [7, 1]),
        (_values(pid=[2, 4]), [2]),
    ],
)
def test_select_sessions(values: dict, pids: list[int]) -> None:
    chosen, _ = select_sessions(SESSIONS, values)
    assert [s["pid"] for s in chosen] == pids


def test_spared_pids_are_explained() -> None:
    _, notes = select_sessions(SESSIONS, _values(pid=[4, 5, 6, 7, 99]))
    assert notes == [
        "pid 4: spared, autovacuum worker, not a client backend (only those are signalled)",
        "pid 5: spared, walsender, not a client backend (only those are signalled)",
        "pid 6: spared, perfbook's own session",
        "pid 7: spared, database other (add --all-databases)",
        "pid 99: no such backend (gone already?)",
    ]


def _report(findings: list[tuple[str, str, float | None]], status: str = "ok", **kpis) -> dict:
    limits = {"pg.dead_tuples": 0.2}
    return {
        "findings": [
            {"code": c, "subject": s, "value": v, "threshold": limits.get(c)} for c, s, v in findings
        ],
        "kpis": kpis,
        "probes": {"postgres": {"status": status}},
    }


def test_compare_finding_gone_and_kpis() -> None:
    spec = VerifySpec(("postgres",), ("pg.dead_tuples:public.t",), kpis=("db_query_mean_ms",))
    before = _report(
        [("pg.dead_tuples", "public.t", 0.5), ("pg.dead_tuples", "public.u", 0.4)], db_query_mean_ms=80.0
    )
    after = _report([("pg.dead_tuples", "public.u", 0.4)], db_query_mean_ms=5.0)
    result = compare(spec, before, after, 1.0)
    assert result.findings == [
        {"finding": "pg.dead_tuples:public.t", "before": 0.5, "after": "absent", "limit": 0.2}
    ]
    assert result.kpis == {"db_query_mean_ms": {"before": 80.0, "after": 5.0}} and result.gone is True
    assert result.figures()["kpis.db_query_mean_ms"] == (80.0, 5.0)


def test_compare_still_there_and_unmeasurable() -> None:
    spec = VerifySpec(("postgres",), ("pg.blocked_queries",))
    before = _report([("pg.blocked_queries", "pid 4", None)])
    assert compare(spec, before, _report([("pg.blocked_queries", "pid 9", None)]), 1.0).gone is False
    down = compare(spec, before, _report([], status="unavailable"), 1.0)
    assert down.gone is None and down.note.startswith("could not verify: postgres: unavailable")
    assert compare(spec, before, {"error": "the triage engine is not available"}, 1.0).gone is None
    joined = VerifySpec(("postgres",), ("pg.missing_index:public.users", "http.slow_response:/users"))
    before = _report([("pg.missing_index", "public.users", 1.0), ("http.slow_response", "/users", 3.0)])
    after = _report([])  # the http probe did not run after the fix: its finding is unmeasured, not gone
    half = compare(joined, before, after, 1.0)
    assert half.gone is None and {f["finding"]: f["after"] for f in half.findings} == {
        "http.slow_response:/users": "not measured",
        "pg.missing_index:public.users": "absent",
    }
    after["probes"]["http"] = {"status": "ok"}
    assert compare(joined, before, after, 1.0).gone is True
    nothing = compare(spec, _report([]), _report([]), 1.0)
    assert nothing.gone is None and "no matching finding before" in nothing.note


def test_recommended_fixes_in_report_order_merged() -> None:
    def act(fix_id, command="perfbook fix ...", **params):
        return {"id": fix_id, "summary": fix_id, "manual": "m", "command": command, "params": params}

    report = {
        "findings": [
            {
                "code": "pg.blocked_queries",
                "subject": "pid 4",
                "actions": [act("pg.terminate", blocking=True)],
            },
            {
                "code": "pg.connections_saturated",
                "subject": "app",
                "actions": [act("pg.terminate", blocking=True), act("pg.idle_timeout", command=None)],
            },
            {"code": "http.slow_response", "subject": "/x", "actions": [act("manual.read_logs")]},
            {
                "code": "pg.missing_index",
                "subject": "public.users",
                "actions": [act("pg.create_index", table="public.users", columns=["email"])],
            },
        ]
    }
    recs = recommended_fixes(report)
    assert [(r.fix_id, r.findings) for r in recs] == [
        ("pg.terminate", ("pg.blocked_queries:pid 4", "pg.connections_saturated:app")),
        ("pg.create_index", ("pg.missing_index:public.users",)),
    ]
    report["causes"] = [
        {
            "summary": "search scans users",
            "confidence": 0.8,
            "findings": ["http.slow_response:/x", "pg.missing_index:public.users"],
            "action": act("pg.create_index", table="public.users", columns=["email"]),
        }
    ]
    recs = recommended_fixes(report)
    assert [(r.fix_id, r.findings) for r in recs] == [
        ("pg.create_index", ("http.slow_response:/x", "pg.missing_index:public.users")),
        ("pg.terminate", ("pg.blocked_queries:pid 4", "pg.connections_saturated:app")),
    ]


def test_render_plan_outcome_verify_history() -> None:
    plan = Plan(
        "pg.terminate",
        "postgresql://app:***@db/app",
        {"pid": [4], "blocking": True},
        "terminate 1 session(s)",
        steps=["SELECT pg_terminate_backend(4, 5000)"],
        affects=[{"pid": 4, "state": "idle in transaction"}],
    )
    text = "\n".join(plan_lines(plan, dry_run=True))
    assert "pid=4 state='idle in transaction'" in text and "SELECT pg_terminate_backend(4, 5000)" in text
    assert command_of(plan) == "perfbook fix pg.terminate --pid 4 --blocking"
    assert text.endswith("To apply: perfbook fix pg.terminate --pid 4 --blocking --apply")
    out = outcome_lines(
        Outcome(
            "partial",
            "terminate: 1 of 2",
            done=["terminate pid 4"],
            not_done=["pid 5: gone"],
            figures={"blocked sessions": {"before": 2, "after": 0}},
        )
    )
    assert out == [
        "partial: terminate: 1 of 2",
        "  done: terminate pid 4",
        "  not done: pid 5: gone",
        "  blocked sessions: 2 -> 0",
    ]
    spec = VerifySpec(("postgres",), ("pg.blocked_queries",))
    ver = verify_lines(compare(spec, _report([("pg.blocked_queries", "pid 4", 1.0)]), _report([]), 2.0))
    assert ver == [
        "verify (postgres, 2 s window):",
        "  pg.blocked_queries:pid 4: 1 -> absent",
        "  finding gone: yes",
    ]
    assert history_lines([]) == ["no fixes recorded yet"]


@pytest.mark.parametrize(
    "module",
    [
        "perfbook.fix.base",
        "perfbook.fix.pg_common",
        "perfbook.fix.pg_index",
        "perfbook.fix.redis_config",
        "perfbook.fix.redis_keys",
        "perfbook.fix.containers",
        "perfbook.fix.context",
    ],
)
def test_doctests(module: str) -> None:
    failed, _ = doctest.testmod(importlib.import_module(module))
    assert failed == 0


def test_merge_reports_keeps_unmeasured_layers() -> None:
    old = _report(
        [("pg.dead_tuples", "public.t", 0.5), ("redis.memory_high", "r", 99.0)], db_query_mean_ms=80.0
    )
    old["probes"]["redis"] = {"status": "ok"}
    new = _report([("pg.dead_tuples", "public.u", 0.3)], db_query_mean_ms=None)  # postgres only
    merged = merge_reports(old, new)
    assert [(f["code"], f["subject"]) for f in merged["findings"]] == [
        ("redis.memory_high", "r"),
        ("pg.dead_tuples", "public.u"),
    ]
    assert merged["kpis"]["db_query_mean_ms"] == 80.0 and merge_reports(old, {"error": "x"}) is old
