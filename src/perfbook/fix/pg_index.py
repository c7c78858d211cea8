"""pg.create_index: ``CREATE INDEX CONCURRENTLY`` on the columns a pg.missing_index finding names.

CONCURRENTLY keeps reads and writes going while the index builds; it cannot run in a transaction
and, when it fails (a lock or statement timeout), it leaves an INVALID index behind that costs
every write and helps no read. The plan reports such leftovers on the same columns and drops them
first; a build that fails here has its own leftover dropped before the error is reported.
"""

from __future__ import annotations

from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.base import Outcome, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext
from perfbook.fix.pg_common import (
    TAG,
    PgWriteFix,
    pg_error_line,
    quoted_ident,
    quoted_table,
    table_info,
    timeouts_sql,
)
from perfbook.units import format_bytes

_COLUMNS_SQL = (
    TAG + "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped"
)
_INDEXES_SQL = (
    TAG
    + """
SELECT ic.relname, i.indisvalid,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord),
       i.indexprs IS NOT NULL OR i.indpred IS NOT NULL,
       ic.relpages::bigint * current_setting('block_size')::bigint
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = %s ORDER BY ic.relname
"""
)


def index_name(table: str, columns: list[str]) -> str:
    """``users_email_idx``: PostgreSQL's own naming, cut to its 63-byte identifier limit.

    >>> index_name("users", ["email"])
    'users_email_idx'
    """
    return f"{table}_{'_'.join(columns)}_idx"[:63]


def read_indexes(conn: Any, oid: int) -> list[dict[str, Any]]:
    """Every index of table ``oid``: name, valid, plain columns in order, partial / expression, size."""
    rows = conn.execute(_INDEXES_SQL, (oid,)).fetchall()
    return [
        {"index": r[0], "valid": r[1], "columns": list(r[2]), "expression": r[3], "size_bytes": r[4]}
        for r in rows
    ]


class PgCreateIndex(PgWriteFix):
    """Build the missing index without blocking the table."""

    id = "pg.create_index"
    changes = "adds an index on the named columns (CREATE INDEX CONCURRENTLY: reads and writes go on)"
    layer = "postgres"
    params = (
        Param("table", "str", "schema.table", required=True),
        Param("columns", "list", "column[,…] in index order", required=True),
        Param(
            "lock_timeout_ms",
            "int",
            "give up when a lock (or an old transaction) is not released within this",
            default=10000,
        ),
        Param("statement_timeout_s", "float", "give up a build running longer than this (s)", default=1800.0),
    )

    def plan(self, ctx: FixContext) -> Plan:
        conn = ctx.pg_read()
        table = table_info(conn, self.values["table"])
        columns = self.values["columns"]
        known = {r[0] for r in conn.execute(_COLUMNS_SQL, (table.oid,)).fetchall()}
        missing = [c for c in columns if c not in known]
        if missing:
            raise UsageError(
                f"pg.create_index: {table.qualified} has no column {missing[0]!r}",
                hint=f"columns: {', '.join(sorted(known))}",
            )
        indexes = read_indexes(conn, table.oid)
        existing = [
            i
            for i in indexes
            if i["valid"] and not i["expression"] and i["columns"][: len(columns)] == columns
        ]
        leftovers = [i for i in indexes if not i["valid"] and i["columns"] == columns]
        name = index_name(table.name, columns)
        ident = fingerprint(
            [table.oid, columns, [i["index"] for i in leftovers], [i["index"] for i in existing]]
        )
        affects = [{**table.row(), "indexes": len(indexes)}] + [
            {"invalid_index": i["index"], **i} for i in leftovers
        ]
        if existing:
            return self.new_plan(
                ctx,
                f"nothing to do: {existing[0]['index']} already indexes {table.qualified}"
                f" ({', '.join(columns)})",
                affects=affects,
                fingerprint=ident,
            )
        steps = timeouts_sql(self.values["lock_timeout_ms"], self.values["statement_timeout_s"] * 1000)
        steps += [
            f"DROP INDEX CONCURRENTLY IF EXISTS {_qualified(conn, table.schema, i['index'])}"
            for i in leftovers
        ]
        cols = ", ".join(quoted_ident(conn, c) for c in columns)
        steps.append(
            f"CREATE INDEX CONCURRENTLY {quoted_ident(conn, name)} ON {quoted_table(conn, table)} ({cols})"
        )
        size = format_bytes(table.size_bytes) if table.size_bytes is not None else "unknown until ANALYZE"
        notes = [
            f"table size {size}, ~{table.rows_estimate} rows (pg_class); reads and writes go on during the "
            "build, which first waits for transactions already running to end"
        ]
        notes += [
            f"invalid index {i['index']} (left by a failed build) will be dropped first" for i in leftovers
        ]
        plan = self.new_plan(
            ctx,
            f"create index {name} on {table.qualified} ({', '.join(columns)})",
            steps=steps,
            affects=affects,
            notes=notes,
            fingerprint=ident,
        )
        plan.data.update(
            table=table.qualified, schema=table.schema, oid=table.oid, index=name, indexes=len(indexes)
        )
        return plan

    def _apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        import psycopg

        conn = ctx.pg_write()
        done: list[str] = []
        try:
            for step in plan.steps:
                conn.execute(step if step.startswith("SET ") else TAG + step)
                done.append(step)
        except psycopg.Error as err:
            failed = f"{step}: {pg_error_line(err)}"
            return Outcome(
                "failed",
                f"index {plan.data['index']} not created",
                done=done,
                not_done=[failed, *self._drop_leftover(ctx, plan)],
                error=failed,
            )
        after = read_indexes(ctx.pg_read(), plan.data["oid"])
        made = next((i for i in after if i["index"] == plan.data["index"]), None)
        valid = bool(made and made["valid"])
        figures = {
            "indexes on table": {"before": plan.data["indexes"], "after": len(after)},
            f"{plan.data['index']} valid": {"before": None, "after": valid},
        }
        return Outcome(
            "done" if valid else "failed",
            f"index {plan.data['index']} created on {plan.data['table']}",
            done=done,
            figures=figures,
            error=None if valid else "the new index is not valid",
        )

    def _drop_leftover(self, ctx: FixContext, plan: Plan) -> list[str]:
        """After a failed build: drop the INVALID index it left, and say whether that worked."""
        import psycopg

        conn = ctx.pg_write()
        left = [
            i
            for i in read_indexes(ctx.pg_read(), plan.data["oid"])
            if i["index"] == plan.data["index"] and not i["valid"]
        ]
        if not left:
            return []
        drop = (
            f"DROP INDEX CONCURRENTLY IF EXISTS {_qualified(conn, plan.data['schema'], plan.data['index'])}"
        )
        try:
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(TAG + drop)
            return [f"the invalid index {plan.data['index']} the failed build left was dropped"]
        except psycopg.Error as err:
            return [
                f"the invalid index {plan.data['index']} is left (drop failed: {pg_error_line(err)}); run: {drop}"
            ]

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(
            ("postgres",),
            (f"pg.missing_index:{plan.data.get('table')}", "pg.slow_queries"),
            kpis=("db_query_mean_ms", "p95_s"),
        )


def _qualified(conn: Any, schema: str, name: str) -> str:
    from psycopg import sql

    return sql.Identifier(schema, name).as_string(conn)
