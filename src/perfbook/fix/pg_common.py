"""PostgreSQL helpers the pg.* fixes share: resolve a table, read its size from pg_class, strip literals.

Sizes come from ``pg_class`` (relpages × block_size), never from size functions, so a plan never
waits behind an ACCESS EXCLUSIVE lock (docs/safety.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from perfbook.errors import PerfbookError, UsageError
from perfbook.fix.base import Fix, Outcome, Plan
from perfbook.fix.context import FixContext

TAG = "/* perfbook */ "

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")


def strip_literals(query: str | None, limit: int = 80) -> str:
    """A statement's start with string and number literals replaced by ``?`` (no secrets, no PII).

    >>> strip_literals("SELECT * FROM users WHERE email = 'a@b.c' AND id > 42")
    'SELECT * FROM users WHERE email = ? AND id > ?'
    """
    if not query:
        return ""
    text = _NUMBER.sub("?", _STRING.sub("?", _SPACE.sub(" ", query).strip()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class TableInfo:
    """One table as pg_class / pg_stat_user_tables see it."""

    oid: int
    schema: str
    name: str
    size_bytes: int | None  # None: pg_class has no size yet (never vacuumed / analyzed)
    rows_estimate: int
    live_tuples: int
    dead_tuples: int
    last_vacuum: str | None
    last_analyze: str | None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def row(self) -> dict[str, Any]:
        """The plan's ``affects`` row for this table."""
        return {
            "table": self.qualified,
            "size_bytes": self.size_bytes,
            "rows_estimate": self.rows_estimate,
            "live_tuples": self.live_tuples,
            "dead_tuples": self.dead_tuples,
            "last_vacuum": self.last_vacuum,
            "last_analyze": self.last_analyze,
        }


_TABLE_SQL = (
    TAG
    + """
SELECT c.oid::int, n.nspname, c.relname,
       CASE WHEN c.relpages > 0 OR coalesce(s.n_live_tup, 0) = 0
            THEN c.relpages::bigint * current_setting('block_size')::bigint END,
       (CASE WHEN c.relpages > 0 THEN greatest(c.reltuples, 0) ELSE coalesce(s.n_live_tup, 0) END)::bigint,
       coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0),
       greatest(s.last_vacuum, s.last_autovacuum)::text, greatest(s.last_analyze, s.last_autoanalyze)::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p', 'm')
"""
)


def table_info(conn: Any, name: str) -> TableInfo:
    """The table ``name`` (``schema.table`` or a name on the search path); UsageError when absent."""
    import psycopg

    conn.execute("SELECT pg_stat_clear_snapshot()")  # fresh pg_stat_* figures (PG 15 caches them)
    try:
        row = conn.execute(_TABLE_SQL, (name,)).fetchone()
    except psycopg.errors.InvalidName:
        row = None
    except psycopg.Error as err:
        raise PerfbookError(
            f"postgres: cannot read table {name}: {str(err).strip().splitlines()[0]}"
        ) from None
    if row is None:
        raise UsageError(f"postgres: no table {name!r} in this database", hint="name it as schema.table")
    return TableInfo(*row)


def quoted_table(conn: Any, table: TableInfo) -> str:
    """``"schema"."table"`` quoted as PostgreSQL needs it."""
    from psycopg import sql

    return sql.Identifier(table.schema, table.name).as_string(conn)


def quoted_ident(conn: Any, name: str) -> str:
    from psycopg import sql

    return sql.Identifier(name).as_string(conn)


def server_version_num(conn: Any) -> int:
    """``server_version_num``, e.g. 150004."""
    return int(conn.execute("SHOW server_version_num").fetchone()[0])


def timeouts_sql(lock_timeout_ms: int, statement_timeout_ms: int) -> list[str]:
    """The SET statements a maintenance step runs first (shown in the plan, run in apply)."""
    return [
        f"SET lock_timeout = '{int(lock_timeout_ms)}ms'",
        f"SET statement_timeout = '{int(statement_timeout_ms)}ms'",
    ]


def reset_timeouts(conn: Any) -> None:
    """Back to the session's own lock / statement timeouts (those it connected with)."""
    conn.execute("RESET lock_timeout")
    conn.execute("RESET statement_timeout")


class PgWriteFix(Fix):
    """A fix whose steps SET their own timeouts: ``apply`` runs ``_apply`` and always resets them,
    because the session is shared by the next fix of a ``--from-report`` run."""

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        try:
            return self._apply(ctx, plan)
        finally:
            reset_timeouts(ctx.pg_write())

    def _apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        raise NotImplementedError


def pg_error_line(err: BaseException) -> str:
    """psycopg's message, first line only."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
