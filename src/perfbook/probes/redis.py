"""Redis probe: INFO diffed over the window, PING round trips across it, SLOWLOG and a big-key sample.

One redis-py asyncio connection (client name ``perfbook``). INFO at the window's start and end;
between them PINGs at the middle of each twentieth of the window and, in the time left between PINGs, a bounded SCAN with
``MEMORY USAGE`` (which, unlike TYPE or STRLEN, does not count as a keyspace hit, so the window's
hit rate stays the application's). The few TYPE / length reads of the biggest keys and SLOWLOG
come after the end snapshot. Never ``KEYS *``; key names and SLOWLOG arguments are truncated.
Evidence dataclasses: :mod:`perfbook.evidence.redis`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from perfbook.config import Config
from perfbook.evidence.redis import RedisEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.redis_build import build_evidence, length_command, percentile
from perfbook.redact import redact_text

SCAN_COUNT = 100  # keys per SCAN call: one short step of the server's event loop
SCAN_SHARE = 0.5  # at most this share of the window goes to the big-key sample
PING_SAMPLES = 20
TOP_BIG_KEYS = 10
SLOWLOG_ENTRIES = 128  # read this many (the default slowlog-max-len), keep the newest 10 not perfbook's
END_RESERVE_S = 0.2
LAG_TICK_S = 0.01


class RedisProbe(BaseProbe):
    """Gathers :class:`RedisEvidence` from ``[redis] url``.

        ev = await run_probe(RedisProbe(), ctx, budget_s=ctx.window_s + 1)
    """

    name = "redis"
    requires = ("redis.asyncio",)  # imported by triage before the window (see probes/base.py)
    evidence = RedisEvidence
    rules = "perfbook.rules.redis"
    target_key = "redis.url"

    @classmethod
    def unconfigured(cls, cfg: Config) -> str | None:
        return None if cfg.redis.url else "no [redis] url"

    async def collect(self, ctx: ProbeContext) -> Evidence:
        cfg = ctx.config.redis
        if not cfg.url:
            raise ProbeSkipped("no [redis] url")
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ProbeSkipped("redis-py is not installed: pip install redis") from None
        try:
            return await self._collect(ctx, aioredis, client_name="perfbook")
        except _NameRefused:  # an ACL without CLIENT SETNAME: go on unnamed (SLOWLOG can't tell ours apart)
            ev = await self._collect(ctx, aioredis, client_name=None)
            if ev.data is not None:
                ev.data.notes.append("CLIENT SETNAME refused: perfbook's own commands may show in SLOWLOG")
            return ev

    async def _collect(self, ctx: ProbeContext, aioredis: Any, client_name: str | None) -> Evidence:
        import redis.exceptions as rex

        try:
            client = aioredis.Redis.from_url(
                ctx.config.redis.url, single_connection_client=True, client_name=client_name,
                socket_connect_timeout=max(0.5, min(3.0, ctx.time_left())), socket_timeout=max(0.5, ctx.time_left()),
            )
        except ValueError as err:
            raise ProbeUnavailable(f"invalid [redis] url: {redact_text(str(err))}") from None
        where = _where(client)
        try:
            return await _Collector(client, ctx).run()
        except rex.NoPermissionError as err:
            if "client|setname" in str(err).lower() and client_name:
                raise _NameRefused from None
            raise ProbeUnavailable(f"permission denied: {redact_text(str(err))} at {where}") from None
        except (rex.ConnectionError, rex.TimeoutError, rex.AuthenticationError) as err:
            raise ProbeUnavailable(f"{redis_reason(err)} at {where}") from None
        except rex.ResponseError as err:
            if str(err).startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
                raise ProbeUnavailable(f"{redis_reason(err)} at {where}") from None
            raise
        finally:
            await client.aclose()


class _NameRefused(Exception):
    """CLIENT SETNAME is not allowed for this user."""


def _where(client: Any) -> str:
    kw = client.connection_pool.connection_kwargs
    return f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}" if "path" not in kw else kw["path"]


def redis_reason(err: Exception) -> str:
    """redis-py's connection error as a short line.

    >>> redis_reason(ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."))
    'connection refused'
    >>> redis_reason(ConnectionError("Error Connect call failed ('127.0.0.1', 1) connecting to 127.0.0.1:1."))
    'connection refused'
    """
    text = " ".join(str(err).split()).rstrip(".")
    lowered = text.lower()
    if "connection refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    if "timeout" in lowered or "timed out" in lowered:
        return "no answer (timeout)"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host"
    if type(err).__name__ == "AuthenticationError" or text.startswith(("WRONGPASS", "NOAUTH")):
        return "authentication failed: " + redact_text(text.removeprefix("WRONGPASS ").removeprefix("NOAUTH "))
    return redact_text(text or type(err).__name__)


class _Collector:
    """One probe run over one connection."""

    def __init__(self, client: Any, ctx: ProbeContext) -> None:
        self.client, self.ctx = client, ctx
        self.notes: list[str] = []
        self.scan_blocked = False  # SCAN refused (ACL): no big-key sample
        self.ping_spans: list[tuple[float, float]] = []  # (sent, answered) clock values of each PING
        self.db = int(client.connection_pool.connection_kwargs.get("db", 0))  # the URL's database

    async def pipeline(self, commands: list[tuple]) -> list[Any]:
        """Several commands in one round trip on THE connection (redis-py's Pipeline takes another)."""
        import redis.exceptions as rex

        conn = self.client.connection
        await conn.send_packed_command(conn.pack_commands(commands))
        out: list[Any] = []
        for _ in commands:
            try:
                out.append(await conn.read_response())
            except rex.ResponseError as err:
                out.append(err)
        return out

    async def run(self) -> Evidence:
        ctx = self.ctx
        started = ctx.clock()
        info_start = await self.client.info("all")
        window_started = ctx.clock()
        # Keep time for the end: three round trips, judged by what the first one (connect + INFO) took,
        # so a loaded machine shortens the window instead of running past the budget.
        round_trip_s = window_started - started
        window_end = min(started + ctx.window_s, ctx.deadline - max(END_RESERVE_S, 4 * round_trip_s))
        rtts_ms, lags_ms, sampled, scan_complete = await self._window(window_started, window_end)
        info_end = await self.client.info("all")
        duration_s = ctx.clock() - window_started
        big = sorted(sampled.items(), key=lambda kv: -kv[1])[:TOP_BIG_KEYS]
        details, slowlog = {}, []
        if ctx.time_left() > 2 * round_trip_s + 0.05:
            details = await self._key_details([k for k, _ in big])
            slowlog = await self._slowlog()
        else:
            self.notes.append("key types and SLOWLOG skipped: the time budget ran short")
        data = build_evidence(ctx.config, info_start, info_end, duration_s, rtts_ms, big, details, len(sampled),
                              scan_complete, slowlog, self.db, self.notes, lags_ms)
        data.latency.p99_net_ms = net_p99_ms(ctx.less_own_stalls(self.ping_spans))
        status: ProbeStatus = "partial" if data.reset_detected or self.notes else "ok"
        return Evidence("redis", status, 0.0, data=data, reason="; ".join(self.notes)[:300] or None)

    async def _window(self, started: float, window_end: float) -> tuple[list[float], list[float], dict[tuple[int, bytes], int], bool]:
        """PINGs across the window with big-key scanning in the gaps, and this event loop's own lag."""
        lags_ms: list[float] = []
        stop = asyncio.Event()
        monitor = asyncio.create_task(self._loop_lag(stop, lags_ms))
        try:
            rtts_ms, sampled, complete = await self._pings_and_scan(started, window_end)
        finally:
            stop.set()  # never cancelled: it ends at its next tick
            await monitor
        return rtts_ms, lags_ms, sampled, complete

    async def _loop_lag(self, stop: asyncio.Event, lags_ms: list[float]) -> None:
        """How late this event loop wakes a sleeper: other probes' work on the same loop (or a busy
        machine) inflates a measured PING by as much, which is not Redis's latency. Real time on
        purpose: it measures the real loop, and a test's fake sleep could never yield to it."""
        while not stop.is_set():
            t0 = time.monotonic()
            await asyncio.sleep(LAG_TICK_S)
            lags_ms.append(max(0.0, (time.monotonic() - t0 - LAG_TICK_S) * 1000))

    async def _pings_and_scan(self, started: float, window_end: float) -> tuple[list[float], dict[tuple[int, bytes], int], bool]:
        """PING at evenly spaced times; scan for big keys in the gaps (bounded in keys and time)."""
        ctx = self.ctx
        limit = self.ctx.config.redis.big_keys_sample
        scan_budget_s = (window_end - started) * SCAN_SHARE
        rtts_ms: list[float] = []
        sampled: dict[tuple[int, bytes], int] = await self._sample_queue_db() if limit else {}
        cursor, complete, scan_s = 0, limit == 0, 0.0
        span_s = window_end - started
        # Mid-points of PING_SAMPLES slices: away from the window's edges, where the other probes
        # parse their snapshots on this same event loop and would inflate a round trip.
        for i in range(PING_SAMPLES):
            target = started + span_s * (i + 0.5) / PING_SAMPLES
            while (not complete and not self.scan_blocked and scan_s < scan_budget_s and len(sampled) < limit
                   and ctx.clock() < target - 0.005):
                t0 = ctx.clock()
                cursor = await self._scan_step(cursor, sampled, limit)
                complete = cursor == 0 and not self.scan_blocked
                scan_s += ctx.clock() - t0
            await ctx.sleep(max(0.0, target - ctx.clock()))
            t0 = ctx.clock()
            await self.client.ping()
            t1 = ctx.clock()
            self.ping_spans.append((t0, t1))
            rtts_ms.append((t1 - t0) * 1000)
        return rtts_ms, sampled, complete

    async def _sample_queue_db(self) -> dict[tuple[int, bytes], int]:
        """One SCAN page of ``queue_db`` (a queue backlog is one big list there), switching database
        inside one pipelined round trip so the connection always ends on the URL's database."""
        queue_db = self.ctx.config.redis.queue_db
        if queue_db is None or queue_db == self.db:
            return {}
        answers = await self.pipeline([("SELECT", queue_db), ("SCAN", 0, "COUNT", SCAN_COUNT), ("SELECT", self.db)])
        if isinstance(answers[0], Exception) or isinstance(answers[1], Exception):
            self.notes.append(f"queue db {queue_db} not sampled: {redact_text(str(answers[0] or answers[1]))[:120]}")
            return {}
        keys = list(answers[1][1])[:SCAN_COUNT]
        sizes = (await self.pipeline([("SELECT", queue_db), *[("MEMORY", "USAGE", k) for k in keys],
                                      ("SELECT", self.db)]))[1:-1]
        return {(queue_db, k): s for k, s in zip(keys, sizes, strict=True) if isinstance(s, int)}

    async def _scan_step(self, cursor: int, sampled: dict[tuple[int, bytes], int], limit: int) -> int:
        import redis.exceptions as rex

        try:
            cursor, keys = await self.client.scan(cursor=cursor, count=SCAN_COUNT)
        except rex.ResponseError as err:  # an ACL without SCAN: the other figures still count
            self.notes.append(f"big keys: SCAN refused: {redact_text(str(err))[:120]}")
            self.scan_blocked = True
            return 0
        keys = [k for k in keys if (self.db, k) not in sampled][: max(0, limit - len(sampled))]
        if keys:
            sizes = await self.pipeline([("MEMORY", "USAGE", k) for k in keys])
            sampled.update({(self.db, k): s for k, s in zip(keys, sizes, strict=True) if isinstance(s, int)})
        return int(cursor)

    async def _key_details(self, keys: list[tuple[int, bytes]]) -> dict[tuple[int, bytes], tuple[str, int | None]]:
        """TYPE and the type's length (STRLEN / LLEN / HLEN / SCARD / ZCARD / XLEN) of the biggest keys."""
        details: dict[tuple[int, bytes], tuple[str, int | None]] = {}
        for db in sorted({db for db, _ in keys}):
            names = [k for d, k in keys if d == db]
            types = await self._in_db(db, [("TYPE", k) for k in names])
            kinds = [t.decode() if isinstance(t, bytes) else str(t) for t in types]
            commands = [length_command(kind, k) for kind, k in zip(kinds, names, strict=True)]
            lengths = iter(await self._in_db(db, [c for c in commands if c]))
            details.update({(db, k): (kind, next(lengths) if c else None)
                            for k, kind, c in zip(names, kinds, commands, strict=True)})
        return details

    async def _in_db(self, db: int, commands: list[tuple]) -> list[Any]:
        """``commands`` run in database ``db``, back on the URL's database within the same round trip."""
        if not commands:
            return []
        if db == self.db:
            return await self.pipeline(commands)
        return (await self.pipeline([("SELECT", db), *commands, ("SELECT", self.db)]))[1:-1]

    async def _slowlog(self) -> list[Any]:
        try:
            entries, total = await self.pipeline([("SLOWLOG", "GET", SLOWLOG_ENTRIES), ("SLOWLOG", "LEN")])
        except Exception as err:  # SLOWLOG can be renamed away on managed Redis
            self.notes.append(f"slowlog: {redact_text(str(err))}")
            return []
        if isinstance(entries, Exception):
            self.notes.append(f"slowlog: {redact_text(str(entries))}")
            return []
        return [entries, total]


def net_p99_ms(nets_s: list[float] | None) -> float | None:
    """The PING p99 (ms) with perfbook's own event-loop stalls taken out; None when not measured.

    >>> net_p99_ms([0.0002, 0.0003, 0.001]), net_p99_ms(None)
    (1.0, None)
    """
    if not nets_s:
        return None
    return round((percentile(nets_s, 99) or 0.0) * 1000, 3)
