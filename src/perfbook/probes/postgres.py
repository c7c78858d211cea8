"""PostgreSQL probe: statistics diffed over the window, activity, locks, tables and indexes.

One psycopg 3 async connection in autocommit with ``default_transaction_read_only=on``, a
``statement_timeout`` (config, capped by the time left) and a short ``lock_timeout``,
``application_name=perfbook``; every statement tagged ``/* perfbook */`` (postgres_sql.py).

Order, so the probe ends within the window + a few round trips: counters at the window's start,
the catalog reads (indexes, columns, sizes) while the window runs, then counters, statements,
activity and locks at its end. Evidence dataclasses: :mod:`perfbook.evidence.postgres`.
"""

from __future__ import annotations

import re
from typing import Any

from perfbook.config import Config
from perfbook.evidence.postgres import (
    PgBlocked,
    PgServer,
    PgSession,
    PostgresEvidence,
)
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes import postgres_sql as sql
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.postgres_build import (
    build_blocking,
    build_cache,
    build_connections,
    build_indexes,
    build_sessions,
    build_statements,
    build_tables,
    select_tables,
)
from perfbook.redact import redact_text, redact_url

END_RESERVE_S = 0.4  # time kept after the window for the end-of-window reads


class PostgresProbe(BaseProbe):
    """Gathers :class:`PostgresEvidence` from ``[postgres] dsn``.

        ev = await run_probe(PostgresProbe(), ctx, budget_s=ctx.window_s + 1)
    """

    name = "postgres"
    codes = "pg"  # pg.* findings are judged on its evidence
    requires = ("psycopg", "psycopg.rows")  # imported by triage before the window (see probes/base.py)
    evidence = PostgresEvidence
    rules = "perfbook.rules.postgres"
    target_key = "postgres.dsn"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.postgres.dsn else "no [postgres] dsn"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return max(1.0, cfg.postgres.statement_timeout_ms / 1000)

    async def collect(self, ctx: ProbeContext) -> Evidence:
        begun = ctx.clock()  # the window runs from here, as the other probes' do (connecting is inside it)
        cfg = ctx.config.postgres
        if not cfg.dsn:
            raise ProbeSkipped("no [postgres] dsn")
        try:
            import psycopg  # noqa: F401  (lazy: triage --only http never imports it)
        except ImportError:
            raise ProbeSkipped("psycopg is not installed: pip install 'psycopg[binary]'") from None
        conn = await connect(cfg.dsn, cfg.statement_timeout_ms, cfg.lock_timeout_ms, ctx)
        try:
            return await _Collector(conn, ctx).run(begun)
        finally:
            await conn.close()


async def connect(dsn: str, statement_timeout_ms: int, lock_timeout_ms: int, ctx: ProbeContext) -> Any:
    """One read-only autocommit connection, or ProbeUnavailable with a one-line reason."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    left_ms = max(100, int(ctx.time_left() * 1000))
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise ProbeUnavailable(f"invalid [postgres] dsn: {one_line(str(err))}") from None
    options = " ".join(filter(None, [
        str(params.pop("options", "") or ""), "-c default_transaction_read_only=on",
        f"-c statement_timeout={min(statement_timeout_ms, left_ms)}",
        f"-c lock_timeout={min(lock_timeout_ms, left_ms)}",
    ]))
    where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
    try:
        return await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, application_name="perfbook", options=options,
            connect_timeout=max(2, int(ctx.time_left())),
        )
    except psycopg.Error as err:
        raise ProbeUnavailable(f"{connect_reason(str(err))} at {where}") from None


def connect_reason(message: str) -> str:
    """libpq's multi-line connection error as one line, without the host preamble.

    >>> connect_reason('connection failed: connection to server at "127.0.0.1", port 5 failed: '
    ...                'FATAL:  password authentication failed for user "x"')
    'password authentication failed for user x'
    >>> connect_reason('connection failed: connection to server at "127.0.0.1", port 5 failed: '
    ...                'Connection refused\\n\\tIs the server running on that host?')
    'connection refused'
    """
    text = one_line(message)
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(r"^.*port \d+ failed:\s*", "", text)
    text = re.sub(r"^(?:FATAL|ERROR):\s*", "", text).replace('"', "")
    text = text.split(" Is the server running")[0].strip()
    if text[1:2].islower():  # "Connection refused" -> "connection refused", keep "SSL …"
        text = text[0].lower() + text[1:]
    return redact_text(text)


def one_line(text: str) -> str:
    """Collapse whitespace and newlines."""
    return " ".join(text.split())


class _Collector:
    """One probe run over one connection (state kept here, not in the probe)."""

    def __init__(self, conn: Any, ctx: ProbeContext) -> None:
        self.conn, self.ctx = conn, ctx
        self.notes: list[str] = []
        self.partial = False
        self.pss_schema: str | None = None  # where pg_stat_statements lives, once found

    async def rows(self, query: str, params: Any = None, what: str = "") -> list[dict[str, Any]] | None:
        """Rows as dicts; None (and a note) when this one read fails — the others still run."""
        import psycopg
        from psycopg.rows import dict_row

        try:
            cur = self.conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            return await cur.fetchall()
        except psycopg.OperationalError as err:
            if self.conn.closed or self.conn.broken:
                raise ProbeUnavailable(f"connection lost: {one_line(str(err))}") from None
            self._fail(what, err)
        except psycopg.Error as err:
            self._fail(what, err)
        return None

    def _fail(self, what: str, err: Exception) -> None:
        self.partial = True
        self.notes.append(redact_text(f"{what}: {one_line(str(err))}"))

    async def run(self, started: float) -> Evidence:
        ctx = self.ctx
        server_rows = await self.rows(sql.SERVER, what="server")
        if not server_rows:
            raise ProbeUnavailable(f"the server accepted the connection but does not answer: {'; '.join(self.notes)}")
        server_row = server_rows[0]
        version_num, block = server_row["version_num"], {"block_size": server_row["block_size"]}
        counters_started = ctx.clock()
        db_start = await self.rows(sql.DB_COUNTERS, what="pg_stat_database")
        tables_start = await self.rows(sql.TABLES, block, what="pg_stat_user_tables") or []
        stmts_start, stmt_status = await self._statements(version_num, with_text=False)
        # The end reads cost about twice the start's: keep that much before the deadline, so a slow
        # server or a loaded machine shortens the window instead of running past the budget.
        reserve_s = max(END_RESERVE_S, 2.5 * (ctx.clock() - counters_started))
        window_end = min(started + ctx.window_s, ctx.deadline - reserve_s)
        settings = await self.rows(sql.SETTINGS_SQL, (list(sql.SETTINGS),), what="pg_settings") or []
        databases = await self.rows(sql.DATABASES, what="database sizes") or []
        index_rows = await self.rows(sql.INDEXES, block, what="indexes") or []
        await ctx.sleep(max(0.0, window_end - ctx.clock()))
        db_end = await self.rows(sql.DB_COUNTERS, what="pg_stat_database")
        tables_end = await self.rows(sql.TABLES, block, what="pg_stat_user_tables") or []
        stmts_end, stmt_status = await self._statements(version_num, with_text=True, status=stmt_status)
        activity = await self.rows(sql.ACTIVITY, what="pg_stat_activity") or []
        return await self._evidence(server_row, settings, databases, index_rows, (db_start, db_end),
                                    (tables_start, tables_end), (stmts_start, stmts_end, stmt_status), activity)

    async def _statements(self, version_num: int, with_text: bool, status: tuple[str, str | None] | None = None):
        """pg_stat_statements rows, and (status, detail) telling why there are none."""
        if status is not None and status[0] != "ok":
            return [], status
        if self.pss_schema is None:
            installed = await self.rows(sql.STAT_STATEMENTS_INSTALLED, what="pg_extension")
            if not installed:
                return [], ("not_installed", "extension pg_stat_statements is not created in this database")
            self.pss_schema = installed[0]["schema"]
        import psycopg
        from psycopg.rows import dict_row

        try:
            cur = self.conn.cursor(row_factory=dict_row)
            await cur.execute(sql.stat_statements_sql(version_num, with_text, self.pss_schema))
            return await cur.fetchall(), ("ok", None)
        except psycopg.errors.ObjectNotInPrerequisiteState as err:  # not in shared_preload_libraries
            return [], ("not_preloaded", one_line(str(err)))
        except psycopg.Error as err:
            if self.conn.broken:
                raise ProbeUnavailable(f"connection lost: {one_line(str(err))}") from None
            return [], ("unreadable", redact_text(one_line(str(err))))

    async def _evidence(self, server_row, settings, databases, index_rows, db, tables, stmts, activity) -> Evidence:
        own_pid = server_row["own_pid"]
        all_tables = tables[1]
        statements, reset_st = build_statements(stmts, server_row["version_num"], [t["name"] for t in all_tables])
        chosen = select_tables(all_tables, statements)
        columns = await self.rows(sql.COLUMNS, ([t["relid"] for t in chosen],), what="columns") or []
        indexes, duplicates = build_indexes(index_rows)
        table_list, reset_tables = build_tables(chosen, tables[0], columns, index_rows, settings)
        sessions = build_sessions(activity)
        blocked, blockers = await self._blocking(sessions, activity)
        db_counters = db[1][0] if db[1] else {}
        server = PgServer(
            version=server_row["version"], version_num=server_row["version_num"],
            uptime_s=round(server_row["uptime_s"], 1), database=server_row["database"],
            settings={r["name"]: r["setting"] + (r["unit"] or "") for r in settings},
            database_sizes_bytes={r["datname"]: r["size_bytes"] for r in databases if r["size_bytes"] is not None},
            stats_reset=_iso(db_counters.get("stats_reset")), stats_age_s=db_counters.get("stats_age_s"),
            block_size=server_row["block_size"],
        )
        data = PostgresEvidence(
            dsn=redact_url(self.ctx.config.postgres.dsn), own_pid=own_pid, server=server,
            statements=statements, connections=build_connections(activity, settings),
            cache=build_cache(db, databases), tables=table_list, indexes=indexes,
            duplicate_indexes=duplicates,
            active=sorted((s for s in sessions if s.state == "active"), key=lambda s: -(s.query_age_s or 0))[:20],
            idle_in_transaction=sorted((s for s in sessions if (s.state or "").startswith("idle in transaction")),
                                       key=lambda s: -(s.state_age_s or 0))[:50],
            blocked=blocked, blockers=blockers,
            top_tables_by_size={t["name"]: _total_bytes(t) for t in sorted(all_tables, key=_total_bytes, reverse=True)[:10]},
            reset_detected=reset_st or reset_tables, notes=self.notes,
        )
        if data.connections and data.connections.hidden:
            self.notes.append(f"{data.connections.hidden} sessions of other roles are hidden from this role: "
                              "GRANT pg_monitor TO it to see their state, age and query")
            self.partial = True
        status: ProbeStatus = "partial" if self.partial or data.reset_detected else "ok"
        return Evidence("postgres", status, 0.0, data=data,
                        reason="; ".join(self.notes)[:300] or None)

    async def _blocking(self, sessions: list[PgSession], activity: list[dict]) -> tuple[list[PgBlocked], list[PgSession]]:
        waiting = [r for r in activity if r.get("blocking_pids")]
        if not waiting:
            return [], []
        locks = await self.rows(sql.WAITING_LOCKS, ([r["pid"] for r in waiting],), what="pg_locks") or []
        return build_blocking(sessions, activity, locks)


def _total_bytes(row: dict) -> int:
    return row["table_bytes"] + row["toast_bytes"] + row["index_bytes"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
