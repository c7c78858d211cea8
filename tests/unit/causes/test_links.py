"""A cross-layer cause explains an endpoint in trouble only through a link in the evidence; the
rest is "also seen", never an explanation. Causes name only the configured query parameters."""

from __future__ import annotations

from causes_stack import (
    AGENTS_PAGE,
    USERS_PAGE,
    handler,
    healthy,
    http_ev,
    metrics_ev,
    statement,
    table,
    timing,
    with_pg,
)
from rich.console import Console

from perfbook.evidence.postgres import PgCache
from perfbook.model import Kpis, Report, Severity
from perfbook.report.terminal import print_report

COLD = PgCache(hit_ratio_window=0.3, blocks_window=50_000, hit_ratio_lifetime=0.9, blocks_lifetime=900_000)


def failing_report(cfg_tables=None, statements=None) -> dict:
    """/api/report answers 5xx (30 %) and never touches the database; the buffer cache is cold."""
    ev = with_pg(
        healthy(),
        cache=COLD,
        tables=cfg_tables or [table("public.users", 200_000, heap_hit_ratio=0.2)],
        statements=statements or [USERS_PAGE, AGENTS_PAGE],
    )
    ev["metrics"] = metrics_ev(handler("/api/report", requests=100, errors_5xx=30), handler("/api/v1/users"))
    ev["http"] = http_ev(timing("/api/report"), timing("/api/v1/users"))
    return ev


def test_5xx_on_a_route_without_statements_is_not_explained_by_the_cache_hit_ratio(split):
    found, causes, also = split(failing_report())
    assert "pg.cache_hit_low:codexos_db" in {f.key for f in found}
    assert not any("pg.cache_hit_low:codexos_db" in c.findings for c in causes)
    (cold,) = [c for c in also if "pg.cache_hit_low:codexos_db" in c.findings]
    assert cold.findings == ("pg.cache_hit_low:codexos_db",) and not cold.summary.startswith(
        "GET /api/report"
    )
    assert any(r.startswith("not linked to GET /api/report") for r in cold.reasons)
    top = causes[0]
    assert top.layer == "app" and "http.error_rate_high:/api/report" in top.findings


def test_a_slow_route_that_reads_the_cold_table_is_linked_to_the_ratio(split):
    ev = failing_report()
    ev["metrics"] = metrics_ev(handler("/api/report"), handler("/api/v1/users", 2.4))
    _, causes, _ = split(ev)
    (cold,) = [c for c in causes if "pg.cache_hit_low:codexos_db" in c.findings]
    assert "http.slow_response:/api/v1/users" in cold.findings


def test_a_failing_route_naming_a_table_joins_a_database_figure_only_with_its_statements(split):
    bloated = table("public.users", 20_000, dead_rows=15_000, dead_ratio=0.75)
    ev = with_pg(healthy(), tables=[bloated], statements=[AGENTS_PAGE])  # nothing of users in the window
    ev["metrics"] = metrics_ev(
        handler("/api/v1/users", requests=100, errors_5xx=40), handler("/api/v1/agents")
    )
    _, causes, also = split(ev)
    assert not any("pg.dead_tuples:public.users" in c.findings for c in causes)
    assert any("pg.dead_tuples:public.users" in c.findings for c in also)
    # its statements are in the evidence
    ev = with_pg(ev, tables=[bloated], statements=[USERS_PAGE, AGENTS_PAGE])
    _, causes, _ = split(ev)
    assert any(
        {"pg.dead_tuples:public.users", "http.error_rate_high:/api/v1/users"} <= set(c.findings)
        for c in causes
    )


def test_the_cause_names_the_configured_query_parameter_never_one_made_from_a_column(split):
    orders = table(
        "public.orders",
        400_000,
        seq_scan=900,
        idx_scan=0,
        seq_scan_window=40,
        idx_scan_window=0,
        seq_tup_read_window=16_000_000,
        columns=["id", "customer_email", "total"],
        indexed_columns=[["id"]],
    )
    by_email = statement(
        "SELECT id, total FROM orders WHERE customer_email = $1",
        mean_ms=250.0,
        calls=40,
        tables=["public.orders"],
        filter_columns=["customer_email"],
        queryid=31,
    )
    ev = with_pg(healthy(), tables=[orders], statements=[by_email])
    ev["metrics"] = metrics_ev(handler("/api/orders", 2.4), handler("/api/v1/users"))
    ev["http"] = http_ev(timing("/api/orders?email=…", 2.6), timing("/api/v1/users"))
    _, causes, _ = split(ev)
    top = causes[0]
    assert top.summary.startswith(
        "GET /api/orders?email=… is slow because search by customer_email scans "
        "public.orders (no usable index)"
    )
    assert "customer_email=" not in top.summary
    ev["http"] = http_ev(timing("/api/v1/users"))  # no configured endpoint of the route: the route alone
    _, causes, _ = split(ev)
    assert causes[0].summary.startswith("GET /api/orders is slow because search by customer_email scans")


def test_the_terminal_lists_also_seen_below_the_causes_never_as_the_likely_cause(split, cfg):
    found, causes, also = split(failing_report())
    report = Report(
        started_at="2026-12-01T10:00:00Z",
        duration_s=2.2,
        window_s=2.0,
        target={"host": "this machine"},
        severity=Severity.P1,
        severity_reason="5xx",
        issue_types=[],
        kpis=Kpis(),
        findings=found,
        probes={},
        causes=causes,
        also_seen=also,
    )
    console = Console(record=True, width=240, color_system=None)
    print_report(report, cfg.thresholds, console)
    out = console.export_text()
    assert out.index("Causes, most likely first") < out.index("Also seen (nothing in the evidence links")
    likely = next(line for line in out.splitlines() if "likely cause" in line)
    assert "cache hit ratio" not in likely.lower()
