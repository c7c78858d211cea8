"""pg.analyze and pg.vacuum: per table (``--table``) or the tables over the dead-tuple / stale-stats limits.

Each statement runs after ``SET lock_timeout`` and ``SET statement_timeout``, so a vacuum that would
queue behind an application lock gives up instead of making every later query wait behind it.
Never ``VACUUM FULL`` (an ACCESS EXCLUSIVE lock for the whole rewrite) unless ``--full`` asks for it.
"""

from __future__ import annotations

from typing import Any

from perfbook.fix.base import Outcome, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext
from perfbook.fix.pg_common import (
    TAG,
    PgWriteFix,
    TableInfo,
    pg_error_line,
    quoted_table,
    table_info,
    timeouts_sql,
)

TIMEOUT_PARAMS = (
    Param("lock_timeout_ms", "int", "give up when a lock is not granted within this (ms)", default=2000),
    Param("statement_timeout_s", "float", "give up a statement running longer than this (s)", default=600.0),
)

_DEAD_SQL = (
    TAG
    + """
SELECT schemaname || '.' || relname FROM pg_stat_user_tables
WHERE n_dead_tup >= %s AND n_dead_tup::float / greatest(n_live_tup + n_dead_tup, 1) >= %s
ORDER BY n_dead_tup DESC LIMIT 20
"""
)

_STALE_SQL = (
    TAG
    + """
SELECT schemaname || '.' || relname FROM pg_stat_user_tables
WHERE n_live_tup > 0 AND (coalesce(last_analyze, last_autoanalyze) IS NULL
                          OR n_mod_since_analyze >= greatest(1000, n_live_tup / 10))
ORDER BY n_mod_since_analyze DESC LIMIT 20
"""
)


class _Maintenance(PgWriteFix):
    """Shared by pg.analyze and pg.vacuum: choose tables, one statement each, dead tuples before / after."""

    layer = "postgres"
    verb = ""

    def statement(self, quoted: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def auto_tables(self, conn: Any, ctx: FixContext) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def plan(self, ctx: FixContext) -> Plan:
        conn = ctx.pg_read()
        names = self.values["table"] or self.auto_tables(conn, ctx)
        tables = [table_info(conn, n) for n in names]
        if not tables:
            return self.new_plan(ctx, f"no table needs {self.verb} (none named, none over the limits)")
        steps = timeouts_sql(self.values["lock_timeout_ms"], self.values["statement_timeout_s"] * 1000)
        steps += [self.statement(quoted_table(conn, t)) for t in tables]
        plan = self.new_plan(
            ctx,
            f"{self.verb} {len(tables)} table(s): {', '.join(t.qualified for t in tables)}",
            steps=steps,
            affects=[t.row() for t in tables],
            fingerprint=fingerprint(sorted(t.oid for t in tables)),
        )
        plan.data["tables"] = [t.qualified for t in tables]
        plan.notes += self.notes()
        return plan

    def notes(self) -> list[str]:
        return []

    def _apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        import psycopg

        conn = ctx.pg_write()
        before = {t: table_info(conn, t) for t in plan.data["tables"]}
        for step in plan.steps[:2]:
            conn.execute(step)
        done, not_done = [], []
        for step in plan.steps[2:]:
            try:
                conn.execute(TAG + step)
                done.append(step)
            except psycopg.Error as err:
                not_done.append(f"{step}: {pg_error_line(err)}")
        after = {t: table_info(ctx.pg_read(), t) for t in plan.data["tables"]}
        return Outcome(
            _status(done, not_done),
            f"{self.verb}: {len(done)} of {len(plan.data['tables'])} table(s)",
            done=done,
            not_done=not_done,
            figures=_figures(before, after),
            error=not_done[0] if not_done else None,
        )


def _status(done: list[str], not_done: list[str]) -> Any:
    if not not_done:
        return "done"
    return "partial" if done else "failed"


def _figures(before: dict[str, TableInfo], after: dict[str, TableInfo]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, b in before.items():
        a = after[name]
        out[f"{name} dead_tuples"] = {"before": b.dead_tuples, "after": a.dead_tuples}
        out[f"{name} last_analyze"] = {"before": b.last_analyze, "after": a.last_analyze}
    return out


class PgAnalyze(_Maintenance):
    """ANALYZE tables whose planner statistics are missing or stale."""

    id = "pg.analyze"
    changes = "refreshes planner statistics of the named tables (ANALYZE; reads only, light lock)"
    verb = "ANALYZE"
    params = (
        Param("table", "list", "schema.table[,…]; default: tables never analyzed or with many changes since"),
        *TIMEOUT_PARAMS,
    )

    def statement(self, quoted: str) -> str:
        return f"ANALYZE {quoted}"

    def auto_tables(self, conn: Any, ctx: FixContext) -> list[str]:
        return [r[0] for r in conn.execute(_STALE_SQL).fetchall()]

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("postgres",), ("pg.slow_queries",), kpis=("db_query_mean_ms",))


class PgVacuum(_Maintenance):
    """VACUUM (ANALYZE) tables with many dead tuples; VACUUM FULL only with ``--full``."""

    id = "pg.vacuum"
    changes = "reclaims dead tuples of the named tables (VACUUM (ANALYZE); FULL only with --full)"
    verb = "VACUUM"
    params = (
        Param("table", "list", "schema.table[,…]; default: tables over the dead-tuple limits"),
        Param("full", "flag", "VACUUM FULL: rewrites the table under an ACCESS EXCLUSIVE lock"),
        *TIMEOUT_PARAMS,
    )

    def statement(self, quoted: str) -> str:
        return f"VACUUM ({'FULL, ' if self.values['full'] else ''}ANALYZE) {quoted}"

    def auto_tables(self, conn: Any, ctx: FixContext) -> list[str]:
        th = ctx.cfg.thresholds
        return [
            r[0] for r in conn.execute(_DEAD_SQL, (th.dead_tuple_min_rows, th.dead_tuple_ratio)).fetchall()
        ]

    def notes(self) -> list[str]:
        if self.values["full"]:
            return [
                "VACUUM FULL blocks every read and write of the table until it ends, "
                "and needs free disk about the table's size"
            ]
        return ["plain VACUUM: reads and writes go on; space is reused, not returned to the OS"]

    def verify(self, plan: Plan) -> VerifySpec:
        tables = plan.data.get("tables", [])
        return VerifySpec(("postgres",), tuple(f"pg.dead_tuples:{t}" for t in tables) or ("pg.dead_tuples",))
