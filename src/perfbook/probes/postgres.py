"""PostgreSQL probe: statistics diffed over the window, activity, locks, tables and indexes.

One psycopg 3 async connection in autocommit with ``default_transaction_read_only=on``, a
``statement_timeout`` (config, capped by the time left) and a short ``lock_timeout``,
``application_name=perfbook``; every statement tagged ``/* perfbook */`` (postgres_sql.py).

Order, so the probe ends within the window + a few round trips: counters at the window's start,
the catalog reads (indexes, columns, sizes) while the window runs, then counters, statements,
activity and locks at its end. Evidence dataclasses: :mod:`perfbook.evidence.postgres`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from perfbook.config import Config
from perfbook.evidence.postgres import (
    POOLER_QUEUED,
    POOLER_REFUSED,
    PgBlocked,
    PgServer,
    PgSession,
    PostgresEvidence,
    pooler_refusal,
)
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes import postgres_sql as sql
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.postgres_build import (
    build_blocking,
    build_cache,
    build_connections,
    build_indexes,
    build_pooler,
    build_sessions,
    build_statements,
    build_tables,
    connect_reason,
    one_line,
    pg_duration,
    select_tables,
    settings_check,
)
from perfbook.probes.postgres_pooler import pgbouncer_answer, pgbouncer_pool_mode, same_address_key
from perfbook.redact import redact_text, redact_url

END_RESERVE_S = 0.4  # time kept after the window for the end-of-window reads
QUEUE_CHECK_RESERVE_S = 1.3  # kept to ask the address for PgBouncer when the first query gets no answer


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
    """One autocommit connection, or ProbeUnavailable with a one-line reason.

    No startup ``options``: PgBouncer refuses them (``unsupported startup parameter: options``)
    and a pooler that ignores them leaves them unapplied. The timeouts and read-only mode are set
    per transaction instead (:func:`postgres_sql.transaction_start`). No server-side prepared
    statements (``prepare_threshold=None``): PgBouncer before 1.21 cannot pool them.
    The timeout arguments are kept for callers; the collector applies them per read.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise ProbeUnavailable(f"invalid [postgres] dsn: {one_line(str(err))}") from None
    where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
    try:
        return await psycopg.AsyncConnection.connect(
            dsn,
            autocommit=True,
            application_name="perfbook",
            prepare_threshold=None,
            connect_timeout=max(2, int(ctx.time_left())),
        )
    except psycopg.Error as err:
        reason = connect_reason(str(err))
        if pooler_refusal(reason) is not None:
            raise ProbeUnavailable(f"{POOLER_REFUSED} at {where}: {reason}") from None
        raise ProbeUnavailable(f"{reason} at {where}") from None


class _Collector:
    """One probe run over one connection (state kept here, not in the probe)."""

    def __init__(self, conn: Any, ctx: ProbeContext) -> None:
        self.conn, self.ctx = conn, ctx
        self.notes: list[str] = []
        self.partial = False
        self.pss_schema: str | None = None  # where pg_stat_statements lives, once found
        self.backend_pids: set[int] = set()  # server backends perfbook's transactions ran on
        self.timeouts = True  # False once SET LOCAL failed: the reads then run without (and say so)
        self.not_applied: list[str] = []
        self.asked: dict[str, str] = {}  # the settings the first read (the server's answer) asked for

    async def execute(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        """Rows of ``query`` in a read-only transaction of its own, with perfbook's timeouts set by
        SET LOCAL (capped by the time left); psycopg errors propagate, the transaction rolled back."""
        import psycopg
        from psycopg.rows import dict_row

        cfg, left_ms = self.ctx.config.postgres, max(100, int(self.ctx.time_left() * 1000))
        begun = False
        if self.timeouts:
            statement_ms, lock_ms = min(cfg.statement_timeout_ms, left_ms), min(cfg.lock_timeout_ms, left_ms)
            self.asked = self.asked or {
                "statement_timeout": pg_duration(statement_ms),
                "lock_timeout": pg_duration(lock_ms),
                "transaction_read_only": "on",
            }
            try:
                await self.conn.execute(sql.transaction_start(statement_ms, lock_ms))
                begun = True
            except psycopg.Error as err:
                if self.conn.broken:
                    raise
                await self._rollback()
                self.timeouts = False
                self.not_applied.append(f"statement_timeout, lock_timeout, read-only: {one_line(str(err))}")
        try:
            cur = self.conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            rows = await cur.fetchall()
        except psycopg.Error:
            if begun:
                await self._rollback()
            raise
        if begun:
            await self.conn.execute(sql.COMMIT)
        return rows

    async def _rollback(self) -> None:
        import psycopg

        if not self.conn.broken:
            try:
                await self.conn.execute(sql.ROLLBACK)
            except psycopg.Error:  # the connection is gone: the next read says so
                pass

    async def rows(self, query: str, params: Any = None, what: str = "") -> list[dict[str, Any]] | None:
        """Rows as dicts; None (and a note) when this one read fails — the others still run."""
        import psycopg

        try:
            return await self.execute(query, params)
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
        server_rows = await self._first_answer()
        if not server_rows:
            raise ProbeUnavailable(
                f"the server accepted the connection but does not answer: {'; '.join(self.notes)}"
            )
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
        admin = await self._pooler_answer(server_row["server_port"], window_end)
        await ctx.sleep(max(0.0, window_end - ctx.clock()))
        db_end = await self.rows(sql.DB_COUNTERS, what="pg_stat_database")
        tables_end = await self.rows(sql.TABLES, block, what="pg_stat_user_tables") or []
        stmts_end, stmt_status = await self._statements(version_num, with_text=True, status=stmt_status)
        activity = await self.rows(sql.ACTIVITY, what="pg_stat_activity") or []
        self.backend_pids |= {server_row["own_pid"], *(r[0]["backend_pid"] for r in (db_start, db_end) if r)}
        data = await self._evidence(
            server_row,
            settings,
            databases,
            index_rows,
            (db_start, db_end),
            (tables_start, tables_end),
            (stmts_start, stmts_end, stmt_status),
            activity,
        )
        return self._with_pooler(data, server_row, admin)

    async def _first_answer(self) -> list[dict[str, Any]] | None:
        """The server's answer to the first read; a silence long enough to be a pooler's queue (the
        connection was accepted, the query waits) is checked against PgBouncer's admin console at the
        same address, so the reason says "queued in PgBouncer" rather than "no answer"."""
        wait_s = self.ctx.time_left() - QUEUE_CHECK_RESERVE_S
        if wait_s <= 0.2:
            return await self.rows(sql.SERVER, what="server")
        # Not wait_for: psycopg answers a cancelled query by waiting up to 5 s for the server to end
        # it, and PgBouncer cannot cancel a query that never got a server connection.
        task = asyncio.ensure_future(self.rows(sql.SERVER, what="server"))
        try:
            done, _ = await asyncio.wait({task}, timeout=wait_s)
            if task in done:
                return task.result()
            admin_dsn = self.ctx.config.pgbouncer.dsn
            same = bool(admin_dsn) and same_address_key(admin_dsn) == same_address_key(
                self.ctx.config.postgres.dsn
            )
            kind, answer = await pgbouncer_answer(
                self.ctx.config.postgres.dsn, admin_dsn if same else "", 1.0
            )
        finally:
            if not task.done():  # close first, so the cancelled read ends at once
                await self.conn.close()
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
        if kind == "absent":
            raise ProbeUnavailable(f"connected, but no answer to the first query within {wait_s:.1f} s")
        raise ProbeUnavailable(
            f"{POOLER_QUEUED}: connected, but no answer to the first query within {wait_s:.1f} s "
            f"(waiting for a server connection); the address is PgBouncer ({answer}): its "
            "pool is exhausted or PostgreSQL is slow behind it"
        )

    async def _pooler_answer(self, server_port: int, window_end: float) -> tuple[str, str, str | None] | None:
        """Ask the address for PgBouncer's admin console, when something may sit in between: the
        server listens on another port than perfbook connected to, or [pgbouncer] dsn names this address."""
        connected = _port(self.conn.info.port)
        admin_dsn = self.ctx.config.pgbouncer.dsn
        same = bool(admin_dsn) and same_address_key(admin_dsn) == same_address_key(
            self.ctx.config.postgres.dsn
        )
        if not same and (connected is None or connected == server_port):
            return None
        budget_s = min(1.0, max(0.2, window_end - self.ctx.clock()))
        dsn, admin = self.ctx.config.postgres.dsn, admin_dsn if same else ""
        kind, answer = await pgbouncer_answer(dsn, admin, budget_s)
        mode = await pgbouncer_pool_mode(dsn, admin, budget_s) if kind == "version" else None
        return kind, answer, mode

    def _with_pooler(
        self, ev: Evidence, server_row: dict[str, Any], admin: tuple[str, str, str | None] | None
    ) -> Evidence:
        """The evidence with its pooler, perfbook's own settings and those not applied."""
        data = ev.data
        assert data is not None  # a collected run always carries its evidence
        own, missing = settings_check(server_row, self.asked if self.timeouts else {})
        data.own_settings, data.settings_not_applied = own, self.not_applied + missing
        data.pooler = build_pooler(
            _port(self.conn.info.port),
            server_row["server_port"],
            self.backend_pids,
            admin[:2] if admin else None,
            pool_mode=admin[2] if admin else None,
        )
        if not data.settings_not_applied:
            return ev
        data.notes.append("perfbook's own settings not applied: " + "; ".join(data.settings_not_applied))
        return replace(ev, status="partial", reason="; ".join(data.notes)[:300])

    async def _statements(
        self, version_num: int, with_text: bool, status: tuple[str, str | None] | None = None
    ):
        """pg_stat_statements rows, and (status, detail) telling why there are none."""
        if status is not None and status[0] != "ok":
            return [], status
        if self.pss_schema is None:
            installed = await self.rows(sql.STAT_STATEMENTS_INSTALLED, what="pg_extension")
            if not installed:
                return [], ("not_installed", "extension pg_stat_statements is not created in this database")
            self.pss_schema = installed[0]["schema"]
        import psycopg

        try:
            return await self.execute(sql.stat_statements_sql(version_num, with_text, self.pss_schema)), (
                "ok",
                None,
            )
        except psycopg.errors.ObjectNotInPrerequisiteState as err:  # not in shared_preload_libraries
            return [], ("not_preloaded", one_line(str(err)))
        except psycopg.Error as err:
            if self.conn.broken:
                raise ProbeUnavailable(f"connection lost: {one_line(str(err))}") from None
            return [], ("unreadable", redact_text(one_line(str(err))))

    async def _evidence(
        self, server_row, settings, databases, index_rows, db, tables, stmts, activity
    ) -> Evidence:
        own_pid = server_row["own_pid"]
        all_tables = tables[1]
        statements, reset_st = build_statements(
            stmts, server_row["version_num"], [t["name"] for t in all_tables]
        )
        chosen = select_tables(all_tables, statements)
        columns = await self.rows(sql.COLUMNS, ([t["relid"] for t in chosen],), what="columns") or []
        indexes, duplicates = build_indexes(index_rows)
        table_list, reset_tables = build_tables(chosen, tables[0], columns, index_rows, settings)
        sessions = build_sessions(activity)
        blocked, blockers = await self._blocking(sessions, activity)
        db_counters = db[1][0] if db[1] else {}
        server = PgServer(
            version=server_row["version"],
            version_num=server_row["version_num"],
            uptime_s=round(server_row["uptime_s"], 1),
            database=server_row["database"],
            settings={r["name"]: r["setting"] + (r["unit"] or "") for r in settings},
            database_sizes_bytes={
                r["datname"]: r["size_bytes"] for r in databases if r["size_bytes"] is not None
            },
            stats_reset=_iso(db_counters.get("stats_reset")),
            stats_age_s=db_counters.get("stats_age_s"),
            block_size=server_row["block_size"],
        )
        data = PostgresEvidence(
            dsn=redact_url(self.ctx.config.postgres.dsn),
            own_pid=own_pid,
            server=server,
            statements=statements,
            connections=build_connections(activity, settings),
            cache=build_cache(db, databases),
            tables=table_list,
            indexes=indexes,
            duplicate_indexes=duplicates,
            active=sorted((s for s in sessions if s.state == "active"), key=lambda s: -(s.query_age_s or 0))[
                :20
            ],
            idle_in_transaction=sorted(
                (s for s in sessions if (s.state or "").startswith("idle in transaction")),
                key=lambda s: -(s.state_age_s or 0),
            )[:50],
            blocked=blocked,
            blockers=blockers,
            top_tables_by_size={
                t["name"]: _total_bytes(t) for t in sorted(all_tables, key=_total_bytes, reverse=True)[:10]
            },
            reset_detected=reset_st or reset_tables,
            notes=self.notes,
        )
        if data.connections and data.connections.hidden:
            self.notes.append(
                f"{data.connections.hidden} sessions of other roles are hidden from this role: "
                "GRANT pg_monitor TO it to see their state, age and query"
            )
            self.partial = True
        status: ProbeStatus = "partial" if self.partial or data.reset_detected else "ok"
        return Evidence("postgres", status, 0.0, data=data, reason="; ".join(self.notes)[:300] or None)

    async def _blocking(
        self, sessions: list[PgSession], activity: list[dict]
    ) -> tuple[list[PgBlocked], list[PgSession]]:
        waiting = [r for r in activity if r.get("blocking_pids")]
        if not waiting:
            return [], []
        locks = await self.rows(sql.WAITING_LOCKS, ([r["pid"] for r in waiting],), what="pg_locks") or []
        return build_blocking(sessions, activity, locks)


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _total_bytes(row: dict) -> int:
    return row["table_bytes"] + row["toast_bytes"] + row["index_bytes"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
