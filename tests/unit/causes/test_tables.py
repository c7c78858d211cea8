"""Join: slow endpoint ↔ statement ↔ table (pg.missing_index, pg.dead_tuples, pg.slow_queries), and near misses."""

from __future__ import annotations

from causes_stack import (
    AGENTS_PAGE,
    USERS_PAGE,
    handler,
    healthy,
    http_ev,
    keys,
    metrics_ev,
    session,
    statement,
    table,
    timing,
    with_pg,
)

SCANNED_USERS = table(
    "public.users",
    200_000,
    seq_scan=5200,
    idx_scan=3,
    seq_scan_window=40,
    idx_scan_window=0,
    seq_tup_read_window=8_000_000,
    indexed_columns=[["id"]],
)
EMAIL_SLOW = statement(
    "SELECT id, name, email FROM users WHERE email = $1",
    mean_ms=250.0,
    calls=40,
    tables=["public.users"],
    filter_columns=["email"],
    queryid=11,
)
EMAIL_FAST = statement(
    "SELECT id, name, email FROM users WHERE email = $1",
    mean_ms=30.0,
    calls=40,
    tables=["public.users"],
    filter_columns=["email"],
    queryid=11,
)
AGENTS = table(
    "public.agents",
    5_000,
    columns=["id", "name", "owner_id", "status"],
    indexed_columns=[["id"], ["owner_id"], ["status"]],
)


def seqscan(stmt=EMAIL_SLOW, users_p95_s=2.4, agents_p95_s=0.02):
    ev = with_pg(healthy(), tables=[SCANNED_USERS, AGENTS], statements=[stmt, USERS_PAGE, AGENTS_PAGE])
    ev["metrics"] = metrics_ev(handler("/api/v1/users", users_p95_s), handler("/api/v1/agents", agents_p95_s))
    ev["http"] = http_ev(timing("/api/v1/users", users_p95_s), timing("/api/v1/agents", agents_p95_s))
    return ev


def test_slow_endpoint_joins_the_scanned_table_and_its_statement(rank):
    found, causes = rank(seqscan())
    top = causes[0]
    assert top.layer == "postgres"
    # no configured endpoint has a query: the route alone, never a parameter named after the column
    assert top.summary.startswith(
        "GET /api/v1/users is slow because e-mail search scans public.users "
        "(no usable index); fix: create the index on users(email)"
    )
    assert {
        "http.slow_response:/api/v1/users",
        "pg.missing_index:public.users",
        "pg.slow_queries:codexos_db",
    } <= keys(top)
    assert top.action is not None and top.action.id == "pg.create_index"
    assert top.action.params == {"table": "public.users", "columns": ["email"]}
    assert top.confidence >= 0.8
    assert any("route /api/v1/users names public.users" in r for r in top.reasons)
    assert top.evidence["statement"]["mean_ms"] == 250.0


def test_scanned_table_without_a_slow_endpoint_is_a_cause_that_says_so(rank):
    _, causes = rank(seqscan(stmt=EMAIL_FAST, users_p95_s=0.03))
    top = causes[0]
    assert top.layer == "postgres" and "public.users" in top.summary
    assert top.summary.startswith("E-mail search scans public.users (no usable index)")
    assert "(no endpoint is over its limits in this window)" in top.summary
    assert not any(k.startswith("http.") for k in top.findings)
    assert 0.4 <= top.confidence < 0.8


def test_near_miss_a_slow_statement_on_a_table_no_slow_endpoint_reads_does_not_join(split):
    # /api/v1/agents is slow; the scanned table is public.users: no shared table, no route, no comment
    _, causes, also = split(seqscan(users_p95_s=0.03, agents_p95_s=2.5))
    assert not any("public.users" in c.summary for c in causes), "no link: not among the ranked causes"
    users = next(c for c in also if "public.users" in c.summary)
    assert "http.slow_response:/api/v1/agents" not in users.findings
    assert "(no endpoint in trouble is explained by it)" in users.summary
    assert any(r.startswith("not linked to GET /api/v1/agents") for r in users.reasons)
    agents = next(c for c in causes if "http.slow_response:/api/v1/agents" in c.findings)
    assert agents.layer == "app"
    assert any("may explain it" in r for r in agents.reasons), (
        "a dependency in trouble lowers the app's own cause"
    )


def test_route_named_in_application_name_joins_a_route_that_does_not_name_the_table(rank):
    ev = seqscan(users_p95_s=0.03)
    ev["metrics"] = metrics_ev(handler("/api/v1/search", 2.6), handler("/api/v1/agents"))
    ev = with_pg(
        ev,
        tables=[SCANNED_USERS, AGENTS],
        statements=[EMAIL_SLOW, USERS_PAGE, AGENTS_PAGE],
        active=[
            session(
                301,
                "active",
                "SELECT id FROM users WHERE email = $1",
                application="GET /api/v1/search",
                age_s=0.2,
            )
        ],
    )
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "postgres" and "http.slow_response:/api/v1/search" in top.findings
    assert "session application_name names the route /api/v1/search" in top.evidence["join"]


def test_bloated_table_an_endpoint_reads_is_a_single_layer_cause(rank):
    bloated = table(
        "public.agents",
        5_000,
        dead_rows=15_000,
        dead_ratio=0.75,
        autovacuum_enabled=False,
        columns=["id", "name", "owner_id", "status"],
        indexed_columns=[["id"], ["owner_id"], ["status"]],
    )
    ev = with_pg(healthy(), tables=[table("public.users", 200_000), bloated])
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "postgres" and top.findings == ("pg.dead_tuples:public.agents",)
    assert top.summary.startswith(
        "public.agents is 75 % dead tuples (autovacuum off); fix: VACUUM ANALYZE public.agents"
    )
    assert top.action is not None and top.action.id == "pg.vacuum"
    assert any("autovacuum is off" in r for r in top.reasons)
    assert top.confidence >= 0.45


def test_bloated_table_nothing_reads_ranks_lower(rank):
    idle_table = table("public.audit_log", 5_000, dead_rows=15_000, dead_ratio=0.75)
    ev = with_pg(healthy(), tables=[table("public.users", 200_000), idle_table])
    _, causes = rank(ev)
    assert causes[0].findings == ("pg.dead_tuples:public.audit_log",)
    assert causes[0].confidence <= 0.3


def test_slow_statement_without_a_table_finding_joins_its_route(rank):
    report = statement(
        "SELECT a.*, u.name FROM agents a JOIN users u ON u.id = a.owner_id WHERE a.status = $1",
        mean_ms=400.0,
        calls=20,
        tables=["public.agents", "public.users"],
        filter_columns=["status"],
        queryid=21,
    )
    ev = with_pg(healthy(), statements=[report, USERS_PAGE])
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 2.2))
    _, causes = rank(ev)
    top = causes[0]
    assert top.layer == "postgres"
    assert {"pg.slow_queries:codexos_db", "http.slow_response:/api/v1/agents"} <= keys(top)
    assert top.summary.startswith("GET /api/v1/agents is slow because statement `SELECT a.*")


def test_the_search_endpoint_is_preferred_among_routes_on_the_table(rank):
    by_email = "/api/v1/users?email=ann.schmidt1@example.com"
    ev = seqscan(users_p95_s=1.8)
    ev["http"] = http_ev(timing("/api/v1/users/42", 1.6), timing(by_email, 2.6), timing("/api/v1/agents"))
    _, causes = rank(ev)
    top = causes[0]
    assert top.summary.startswith(
        "GET /api/v1/users?email=… is slow because e-mail search scans public.users "
        "(no usable index); fix: create the index on users(email)"
    )
    # one subject per route: the metrics' /api/v1/users and perfbook's ?email= requests are one finding
    assert (
        "http.slow_response:/api/v1/users" in top.findings
        and f"http.slow_response:{by_email}" not in top.findings
    )
    assert "ann.schmidt1" not in top.summary and not any("ann.schmidt1" in r for r in top.reasons)


def test_near_miss_a_statement_far_faster_than_the_slow_endpoint_does_not_join(split):
    agents_read = statement(
        "SELECT id, name, owner_id, status FROM agents ORDER BY id LIMIT $1",
        mean_ms=120.0,
        calls=30,
        tables=["public.agents"],
        queryid=13,
    )
    ev = with_pg(healthy(), statements=[agents_read, USERS_PAGE])
    ev["metrics"] = metrics_ev(handler("/api/v1/users"), handler("/api/v1/agents", 4.9))
    _, causes, also = split(ev)
    top = causes[0]
    assert top.layer == "app" and "GET /api/v1/agents is slow (p95 4.90 s)" in top.summary
    assert all(c.layer == "app" for c in causes)
    stmt = next(c for c in also if c.layer == "postgres")
    assert "http.slow_response:/api/v1/agents" not in stmt.findings
    assert any("too small a part of it to explain it: not joined" in r for r in stmt.reasons)
