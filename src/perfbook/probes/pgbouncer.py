"""PgBouncer probe: its admin console read at the window's start and end, the pools sampled across it.

One psycopg 3 async connection to ``[pgbouncer] dsn`` (the ``pgbouncer`` virtual database; the
user must be in ``admin_users`` or ``stats_users``), autocommit, simple SHOW commands only (the
admin console has no transactions and no prepared statements). ``SHOW POOLS`` at five points of
the window, ``SHOW STATS`` / ``CLIENTS`` / ``CONFIG`` / ``DATABASES`` at its start and end: the
report uses the deltas, never PgBouncer's lifetime totals. Evidence: :mod:`perfbook.evidence.pgbouncer`.
"""

from __future__ import annotations

from typing import Any

from perfbook.config import Config
from perfbook.evidence.pgbouncer import PgbouncerEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.pgbouncer_build import Snapshot, build_evidence
from perfbook.probes.postgres_build import connect_reason, one_line
from perfbook.redact import redact_text, redact_url

POOL_SAMPLES = 5  # SHOW POOLS reads from the window's start to its end
END_RESERVE_S = 0.2  # kept after the window for the end reads
SNAPSHOT = ("pools", "stats", "clients", "config", "databases")


class PgbouncerProbe(BaseProbe):
    """Gathers :class:`PgbouncerEvidence` from ``[pgbouncer] dsn``.

    ev = await run_probe(PgbouncerProbe(), ctx, budget_s=ctx.window_s + 2)
    """

    name = "pgbouncer"
    requires = ("psycopg", "psycopg.rows")
    evidence = PgbouncerEvidence
    rules = "perfbook.rules.pgbouncer"
    target_key = "pgbouncer.dsn"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.pgbouncer.dsn else "no [pgbouncer] dsn"

    @classmethod
    def timeout_s(cls, cfg: Config) -> float:
        return cfg.pgbouncer.timeout_s

    async def collect(self, ctx: ProbeContext) -> Evidence:
        begun = ctx.clock()
        cfg = ctx.config.pgbouncer
        if not cfg.dsn:
            raise ProbeSkipped("no [pgbouncer] dsn")
        try:
            import psycopg
        except ImportError:
            raise ProbeSkipped("psycopg is not installed: pip install 'psycopg[binary]'") from None
        try:
            conn = await psycopg.AsyncConnection.connect(
                cfg.dsn, autocommit=True, prepare_threshold=None, connect_timeout=max(1, int(cfg.timeout_s))
            )
        except psycopg.Error as err:
            raise ProbeUnavailable(f"PgBouncer admin console: {connect_reason(str(err))}") from None
        try:
            return await _Collector(conn, ctx).run(begun)
        finally:
            await conn.close()


class _Collector:
    """One probe run over one admin-console connection."""

    def __init__(self, conn: Any, ctx: ProbeContext) -> None:
        self.conn, self.ctx = conn, ctx
        self.notes: list[str] = []

    async def show(self, what: str) -> list[dict[str, Any]]:
        """``SHOW <what>`` as dicts; [] (and a note) when this one command fails."""
        import psycopg
        from psycopg.rows import dict_row

        try:
            cur = self.conn.cursor(row_factory=dict_row)
            await cur.execute(f"SHOW {what}")
            return await cur.fetchall()
        except psycopg.Error as err:
            if self.conn.broken:
                raise ProbeUnavailable(
                    f"PgBouncer admin console: connection lost: {one_line(str(err))}"
                ) from None
            note = redact_text(f"SHOW {what}: {one_line(str(err))}")
            if note not in self.notes:
                self.notes.append(note)
            return []

    async def snapshot(self) -> Snapshot:
        snap = Snapshot(at=self.ctx.clock())
        for what in SNAPSHOT:
            setattr(snap, what, await self.show(what.upper()))
        return snap

    async def run(self, started: float) -> Evidence:
        ctx = self.ctx
        version_rows = await self.show("VERSION")
        version = str(next(iter(version_rows[0].values()))) if version_rows else None
        start = await self.snapshot()
        if not start.pools and not start.stats:
            raise ProbeUnavailable(
                "PgBouncer admin console answers no SHOW command: "
                + ("; ".join(self.notes) or "is this PgBouncer's `pgbouncer` database?")
            )
        window_end = min(started + ctx.window_s, ctx.deadline - END_RESERVE_S)
        samples = [start.pools]
        for i in range(1, POOL_SAMPLES - 1):
            at = start.at + (window_end - start.at) * i / (POOL_SAMPLES - 1)
            await ctx.sleep(max(0.0, at - ctx.clock()))
            samples.append(await self.show("POOLS"))
        await ctx.sleep(max(0.0, window_end - ctx.clock()))
        end = await self.snapshot()
        samples.append(end.pools)
        data = build_evidence(redact_url(ctx.config.pgbouncer.dsn), version, start, end, samples, self.notes)
        status: ProbeStatus = "partial" if self.notes or data.reset_detected else "ok"
        return Evidence("pgbouncer", status, 0.0, data=data, reason="; ".join(self.notes)[:300] or None)
