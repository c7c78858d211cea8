"""Join family: slow endpoint ↔ statement ↔ table (``pg.missing_index``, ``pg.dead_tuples``,
``pg.slow_queries``). Pure.

The join goes through the table: the finding names it, the window's statements that read it come
from ``pg_stat_statements``, and an endpoint reads it when its route names it or a statement /
session names the route. A table no endpoint in trouble reads still makes a (weaker) cause of its
own — and says so — but never borrows another endpoint's slowness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfbook.causes.context import Context, Symptom, explains_little
from perfbook.causes.routes import bare_table, param_name, same_table, search_phrase
from perfbook.causes.score import SYMPTOM_MATCHED, Score, first_action, make_cause, pct
from perfbook.codes import action
from perfbook.evidence.postgres import PgStatement
from perfbook.model import Action, Cause, Finding
from perfbook.sanitize import referenced_tables


@dataclass
class StatementView:
    """One statement as the joins need it, from the probe's PgStatement or a finding's evidence."""

    query: str
    tables: list[str] = field(default_factory=list)
    mean_ms: float | None = None
    calls: int = 0
    filter_columns: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, st: PgStatement) -> StatementView:
        """The view of a statement the postgres probe read."""
        query = st.query or ""
        return cls(
            query,
            list(st.tables or referenced_tables(query)),
            st.mean_ms,
            int(st.calls or 0),
            list(st.filter_columns or []),
        )

    @classmethod
    def of_dict(cls, st: dict[str, Any]) -> StatementView:
        """The view of a statement a finding's evidence lists (``{"query": …, "mean_ms": …}``)."""
        query = str(st.get("query", "") or "")
        tables = list(st.get("tables") or referenced_tables(query))
        return cls(
            query,
            tables,
            st.get("mean_ms"),
            int(st.get("calls", 0) or 0),
            list(st.get("filter_columns") or []),
        )

    def short(self, limit: int = 80) -> str:
        return self.query if len(self.query) <= limit else self.query[: limit - 1] + "…"


def table_causes(ctx: Context) -> list[Cause]:
    """Causes for tables missing an index, bloated tables, and slow statements on their own."""
    causes = [_missing_index(ctx, f) for f in ctx.of("pg.missing_index")]
    causes += [_dead_tuples(ctx, f) for f in ctx.of("pg.dead_tuples")]
    claimed = {f.subject for f in ctx.of("pg.missing_index", "pg.dead_tuples")}
    for f in ctx.of("pg.slow_queries"):
        # a statement on a table with its own cause is carried there (see _related_slow)
        views = [
            v
            for v in finding_statements(ctx, f)
            if not any(same_table(t, c) for t in v.tables for c in claimed)
        ]
        if views:
            causes.append(_slow_statement(ctx, f, views))
    return causes


def finding_statements(ctx: Context, f: Finding) -> list[StatementView]:
    """The statements a ``pg.slow_queries`` finding is about (its evidence, else the probe's top)."""
    ev = f.evidence
    listed = ev.get("statements") or ev.get("top") or ([ev] if ev.get("query") else [])
    views = [StatementView.of_dict(s) for s in listed if isinstance(s, dict)]
    qid = ev.get("queryid", f.subject)
    for st in ctx.statements():
        if not views and str(st.queryid) == str(qid):
            views.append(StatementView.of(st))
    return views or [StatementView.of(st) for st in ctx.statements()[:1]]


def _related_slow(ctx: Context, table: str) -> list[Finding]:
    return [
        f
        for f in ctx.of("pg.slow_queries")
        if any(same_table(t, table) for v in finding_statements(ctx, f) for t in v.tables)
    ]


def _statement_part(ctx: Context, score: Score, table: str, columns: list[str]) -> StatementView | None:
    """The window statement on ``table`` that explains it best (filters on ``columns`` first)."""
    views = [StatementView.of(st) for st in ctx.statements_on(table)]
    views.sort(
        key=lambda v: (
            not set(map(param_name, v.filter_columns)) & set(map(param_name, columns)),
            -(v.mean_ms or 0),
        )
    )
    if not views:
        score.add(-0.05, f"no statement on {table} in the window's pg_stat_statements")
        return None
    v, limit_ms = views[0], ctx.cfg.thresholds.db_query_mean_ms
    if v.mean_ms is not None and v.mean_ms >= limit_ms:
        score.add(
            0.2,
            f"statement on {table} slow in the same window (mean {v.mean_ms:.0f} ms over {v.calls} calls)",
        )
    elif v.calls:
        total_ms = ctx.window_total_ms()
        share = min(1.0, (v.mean_ms or 0) * v.calls / total_ms) if total_ms else 0.0
        score.add(
            0.1,
            f"statement on {table} ran {v.calls} times in the window "
            f"(mean {v.mean_ms or 0:.1f} ms, {pct(share)} of the database's time)",
        )
    return v


def _symptom_part(
    ctx: Context,
    score: Score,
    table: str,
    columns: list[str] | None = None,
    stmt: StatementView | None = None,
) -> list[tuple[Symptom, str]]:
    """Endpoints in trouble that read ``table`` (one searching by ``columns`` first); the best one scores.

    A statement far faster than the endpoint's p95 does not explain it: no join (and it says so).
    """
    wanted = {param_name(c) for c in columns or []}
    joined = sorted(ctx.symptoms_for_table(table), key=lambda j: not wanted & j[0].params)
    if (
        joined
        and stmt is not None
        and joined[0][0].errors is None
        and explains_little(stmt.mean_ms, joined[0][0].p95_s)
    ):
        sym = joined[0][0]
        score.add(
            0.05,
            f"{sym.label} {sym.describe()} in the same window, but the statement's mean "
            f"{stmt.mean_ms:.0f} ms is too small a part of it to explain it: not joined",
        )
        return []
    if joined:
        sym, how = joined[0]
        score.add(SYMPTOM_MATCHED, f"{sym.label} {sym.describe()} in the same window ({how})")
        if sym.low_confidence:
            score.add(-0.1, f"few requests on {sym.label}")
    return joined


def _columns(f: Finding, ctx: Context, table: str) -> list[str]:
    for a in f.actions:
        cols = a.params.get("columns") if a.params else None
        if cols:
            return [str(c) for c in (cols if isinstance(cols, (list, tuple)) else str(cols).split(","))]
    cols = f.evidence.get("columns") or f.evidence.get("filter_columns")
    if cols:
        return [str(c) for c in cols]
    t = ctx.pg_table(table)
    indexed = {c for idx in (t.indexed_columns if t is not None else []) for c in idx[:1]}
    for v in map(StatementView.of, ctx.statements_on(table)):
        wanted = [c for c in v.filter_columns if c not in indexed]
        if wanted:
            return wanted
    return []


def _missing_index(ctx: Context, f: Finding) -> Cause:
    table, score = f.subject, Score()
    reads = f"{pct(f.value)} of reads" if isinstance(f.value, (int, float)) and f.value <= 1 else "most reads"
    score.finding(f, f"{table} read by sequential scans ({reads})")
    t = ctx.pg_table(table)
    seq_window = t.seq_scan_window if t is not None else None
    if seq_window:
        score.add(0.1, f"{seq_window} sequential scans of it in the window")
    elif seq_window == 0:
        score.add(-0.1, "no sequential scan of it in the window: the scans may be old")
    columns = _columns(f, ctx, table)
    stmt = _statement_part(ctx, score, table, columns)
    joined = _symptom_part(ctx, score, table, columns, stmt)
    summary = _scan_summary(ctx, joined[0][0] if joined else None, table, columns)
    keys = [f, *_related_slow(ctx, table), *(x for s, _ in joined[:1] for x in s.findings)]
    evidence = {
        "table": table,
        "columns": columns,
        "seq_scan_window": seq_window,
        "rows": t.rows if t is not None else f.evidence.get("rows"),
        "statement": _stmt_evidence(stmt),
        "endpoints": [s.endpoint for s, _ in joined[:1]],
        "join": [how for _, how in joined[:1]],
    }
    return make_cause(summary, score, keys, "postgres", evidence, first_action([f], ("pg.create_index",)))


def _dead_tuples(ctx: Context, f: Finding) -> Cause:
    table, score = f.subject, Score()
    t = ctx.pg_table(table)
    ratio = f.value if isinstance(f.value, (int, float)) else (t.dead_ratio if t is not None else None)
    what = f"{pct(ratio)} dead tuples" if ratio is not None else "bloated with dead tuples"
    score.finding(f, f"{table} is {what}")
    autovacuum_off = t is not None and t.autovacuum_enabled is False
    if autovacuum_off:
        score.add(0.1, f"autovacuum is off for {table}")
    views = [StatementView.of(st) for st in ctx.statements_on(table)]
    calls = sum(v.calls for v in views)
    if calls:
        score.add(0.1, f"{calls} statement calls read or write it in the window")
    joined = _symptom_part(ctx, score, table)
    fix = f"VACUUM ANALYZE {table}" + (" and turn autovacuum back on" if autovacuum_off else "")
    lead = f"{joined[0][0].label} is slow: " if joined and joined[0][0].slow is not None else ""
    summary = f"{lead}{table} is {what}{' (autovacuum off)' if autovacuum_off else ''}; fix: {fix}"
    if not joined:
        summary += _no_symptom_note(ctx)
    keys = [f, *_related_slow(ctx, table), *(x for s, _ in joined[:1] for x in s.findings)]
    evidence = {
        "table": table,
        "dead_ratio": ratio,
        "dead_rows": t.dead_rows if t is not None else None,
        "autovacuum_enabled": None if t is None else not autovacuum_off,
        "window_calls": calls,
        "endpoints": [s.endpoint for s, _ in joined[:1]],
    }
    return make_cause(summary, score, keys, "postgres", evidence, first_action([f], ("pg.vacuum",)))


def _slow_statement(ctx: Context, f: Finding, views: list[StatementView]) -> Cause:
    score, v = Score(), views[0]
    mean = f" (mean {v.mean_ms:.0f} ms over {v.calls} calls)" if v.mean_ms is not None else ""
    score.finding(f, f"statement slow in the window{mean}")
    scan = _unindexed_scan(ctx, v)
    if scan is not None:
        table, scans, columns = scan
        score.add(
            0.15,
            f"{scans} sequential scans of {table} in the same window, and no index leads with "
            f"{', '.join(columns)}",
        )
    joined: list[tuple[Symptom, str]] = []
    for table in [scan[0]] if scan else v.tables:
        joined = _symptom_part(ctx, score, table, scan[2] if scan else v.filter_columns, v)
        if joined:
            break
    sym = joined[0][0] if joined else None
    if scan is not None:
        summary = _scan_summary(ctx, sym, scan[0], scan[2], f": `{v.short()}`{mean}")
        act = first_action([f], ("pg.create_index",))
        act = act if act is not None and act.id == "pg.create_index" else create_index(scan[0], scan[2])
    else:
        where = f" on {', '.join(v.tables)}" if v.tables else ""
        lead = f"{sym.label} is slow because " if sym else ""
        summary = (
            f"{lead}statement `{v.short()}`{where} is slow{mean}; fix: EXPLAIN it and index or rewrite it"
        )
        summary += "" if sym else _no_symptom_note(ctx)
        act = first_action([f])
    keys = [f, *(sym.findings if sym else [])]
    evidence = {
        "statement": _stmt_evidence(v),
        "endpoints": [s.endpoint for s, _ in joined[:1]],
        "table": scan[0] if scan else None,
        "seq_scan_window": scan[1] if scan else None,
    }
    return make_cause(summary, score, keys, "postgres", evidence, act)


def _unindexed_scan(ctx: Context, v: StatementView) -> tuple[str, int, list[str]] | None:
    """(table, sequential scans in the window, filter columns no index leads with) for the statement."""
    for name in v.tables:
        t = ctx.pg_table(name)
        if t is None or not t.seq_scan_window:
            continue
        scans = t.seq_scan_window
        leading = {cols[0] for cols in t.indexed_columns or [] if cols}
        columns = [c for c in v.filter_columns if c not in leading]
        if columns:
            return t.name, scans, columns
    return None


def create_index(table: str, columns: list[str]) -> Action:
    """The pg.create_index fix for ``table`` (what the missing-index rule would have advised)."""
    ddl = f"CREATE INDEX CONCURRENTLY ON {table} ({', '.join(columns)})"
    return action(
        "pg.create_index",
        f"index {table} ({', '.join(columns)}): {ddl}",
        f"psql \"$DSN\" -c '{ddl}'",
        table=table,
        columns=columns,
    )


def _scan_summary(ctx: Context, sym: Symptom | None, table: str, columns: list[str], detail: str = "") -> str:
    """``GET /api/v1/users?email=… is slow because e-mail search scans public.users (no usable index)…``"""
    phrase = search_phrase(columns) if columns else "a filter"
    fix = f"create the index on {bare_table(table)}({', '.join(columns)})" if columns else "create the index"
    if sym is None:
        timed = ctx.endpoint_filtering(table, columns) if columns else None
        if timed is not None:
            phrase += f" ({timed[0]}" + (f", p95 {timed[1]:.2f} s)" if timed[1] is not None else ")")
        return (
            f"{phrase[0].upper()}{phrase[1:]} scans {table} (no usable index){detail}; fix: {fix}"
            + _no_symptom_note(ctx)
        )
    verb = "is slow" if sym.slow is not None else "fails"  # the label names only configured query parameters
    return f"{sym.label} {verb} because {phrase} scans {table} (no usable index){detail}; fix: {fix}"


def _stmt_evidence(v: StatementView | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "query": v.short(200),
        "tables": v.tables,
        "mean_ms": v.mean_ms,
        "calls": v.calls,
        "filter_columns": v.filter_columns,
    }


def _no_symptom_note(ctx: Context) -> str:
    if ctx.symptoms:
        return " (no endpoint in trouble is explained by it)"
    return (
        " (no endpoint is over its limits in this window)"
        if ctx.measured("http") or ctx.measured("metrics")
        else ""
    )
