"""Joins: requests ↔ blocked sessions ↔ the blocker; latency ↔ connection saturation / idle transactions."""

from __future__ import annotations

from causes_stack import handler, healthy, keys, metrics_ev, pg_data, session, with_pg

from perfbook.evidence.postgres import PgBlocked, PgConnections

HOLDER = session(
    5151,
    "idle in transaction",
    "LOCK TABLE agents IN SHARE MODE",
    application="perfbook-lab-fault",
    age_s=40.0,
    xact_age_s=41.0,
)
WAITING = session(
    6001, "active", "INSERT INTO agents (name, owner_id, status) VALUES ($1, $2, $3)", age_s=6.0
)


def lock(agents_p95_s: float = 8.0, errors: int = 20):
    blocked = [
        PgBlocked(
            WAITING,
            blocking_pids=[5151],
            lock_type="relation",
            lock_mode="RowExclusiveLock",
            relation="public.agents",
            root_pids=[5151],
        )
    ]
    ev = with_pg(healthy(), blocked=blocked, blockers=[HOLDER], idle_in_transaction=[HOLDER])
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users"),
        handler("/api/v1/agents", agents_p95_s, requests=60, errors_5xx=errors, method="POST"),
    )
    return ev


def test_slow_writes_join_the_lock_and_name_the_blocker(rank):
    found, causes = rank(lock())
    top = causes[0]
    assert top.layer == "postgres"
    assert "pg.blocked_queries:public.agents" in top.findings
    assert {"http.slow_response:/api/v1/agents", "http.error_rate_high:/api/v1/agents"} <= keys(top)
    assert (
        "writes on public.agents wait on a lock held by pid 5151 (perfbook-lab-fault, idle in transaction"
        in top.summary
    )
    assert "LOCK TABLE agents IN SHARE MODE" in top.summary
    assert top.evidence["blocker"]["pid"] == 5151 and top.evidence["max_wait_s"] == 6.0
    assert top.action is not None and top.action.id == "pg.terminate" and top.action.params["pid"] == 5151
    assert top.confidence >= 0.75
    # the endpoint is explained: no "the application itself" cause for it
    assert not any(c.layer == "app" and "/api/v1/agents" in c.summary for c in causes)


def test_lock_with_no_user_facing_symptom_still_names_the_blocker(rank):
    _, causes = rank(lock(agents_p95_s=0.02, errors=0))
    top = causes[0]
    assert top.layer == "postgres" and "pid 5151" in top.summary
    assert not any(k.startswith("http.") for k in top.findings)
    assert 0.5 <= top.confidence < 0.75


def test_saturated_connections_name_who_holds_them(rank):
    conns = PgConnections(
        total=94,
        max_connections=100,
        reserved=3,
        usable=97,
        used_pct=96.9,
        by_state={"idle": 88, "active": 6},
        by_application={"perfbook-lab-fault": 82, "perfbook-lab": 12},
    )
    ev = with_pg(healthy(), connections=conns)
    ev["metrics"] = metrics_ev(handler("/api/v1/users", 2.3), handler("/api/v1/agents"))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "postgres" and "pg.connections_saturated:codexos_db" in top.findings
    assert (
        "connections are saturated: 94 of 97 usable slots used, 82 by perfbook-lab-fault (mostly idle)"
        in top.summary
    )
    assert "http.slow_response:/api/v1/users" in top.findings
    assert top.confidence >= 0.7


def test_idle_transactions_alone_are_a_cause_naming_their_application(rank):
    idle = [
        session(
            7000 + i,
            "idle in transaction",
            "SELECT count(*) FROM agents WHERE status = $1",
            application="perfbook-lab-fault",
            age_s=75.0 + i,
        )
        for i in range(3)
    ]
    _, causes = rank(with_pg(healthy(), idle_in_transaction=idle))
    top = causes[0]
    assert top.layer == "postgres" and top.findings == ("pg.idle_in_transaction:codexos_db",)
    assert top.summary.startswith(
        "3 session(s) (perfbook-lab-fault) sit idle in a transaction for up to 77 s"
    )
    assert top.action is not None and top.action.id == "pg.terminate"
    assert 0.35 <= top.confidence <= 0.5


def test_near_miss_a_healthy_pool_is_no_cause(rank):
    _, causes = rank(with_pg(healthy(), connections=pg_data().connections))
    assert causes == []


def test_an_active_blocker_is_cancelled_before_it_is_terminated(rank):
    runner = session(5252, "active", "UPDATE agents SET status = $1", application="batch", age_s=30.0)
    blocked = [
        PgBlocked(
            WAITING,
            blocking_pids=[5252],
            lock_type="transactionid",
            lock_mode="ShareLock",
            relation="public.agents",
            root_pids=[5252],
        )
    ]
    _, causes = rank(with_pg(healthy(), blocked=blocked, blockers=[runner]))
    top = causes[0]
    assert "held by pid 5252 (batch, active for 30 s: `UPDATE agents SET status = $1`)" in top.summary
    assert top.action is not None and top.action.id == "pg.cancel"
    assert top.summary.endswith("fix: cancel the statement of pid 5252")


def test_two_locked_tables_are_two_causes_each_with_its_blocker(rank):
    users_holder = session(
        5353,
        "idle in transaction",
        "UPDATE users SET name = $1 WHERE id = $2",
        application="admin-tool",
        age_s=50.0,
    )
    users_waiting = session(6002, "active", "UPDATE users SET email = $1 WHERE id = $2", age_s=4.0)
    blocked = [
        PgBlocked(WAITING, [5151], "relation", "RowExclusiveLock", "public.agents", [5151]),
        PgBlocked(users_waiting, [5353], "transactionid", "ShareLock", "public.users", [5353]),
    ]
    _, causes = rank(with_pg(healthy(), blocked=blocked, blockers=[HOLDER, users_holder]))
    by_table = {c.evidence["relation"]: c for c in causes if c.evidence.get("relation")}
    assert by_table["public.agents"].findings == ("pg.blocked_queries:public.agents",)
    assert by_table["public.users"].findings == ("pg.blocked_queries:public.users",)
    assert "pid 5151" in by_table["public.agents"].summary and "pid 5353" in by_table["public.users"].summary
