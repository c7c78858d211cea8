"""Redis probe: INFO diffed over the window, PING round trips across it, SLOWLOG and a big-key scan.

One redis-py asyncio connection (client name ``perfbook``). INFO at the window's start and end;
between them PINGs at the middle of each twentieth of the window and, in the time left between
PINGs, the big-key scan: pipelined SCAN + ``MEMORY USAGE`` (which, unlike TYPE or STRLEN, does not
count as a keyspace hit, so the window's hit rate stays the application's), each round trip
reading the sizes of one page and asking for the next, over the URL's database then ``queue_db``,
within ``[redis] big_keys_budget_s``. It reads the whole keyspace when the budget allows (~100,000
keys/s, bench/redis_bigkeys.py) and otherwise records how much it read of DBSIZE: a sample is
never passed off as all keys. Only the ten biggest keys are kept. The few TYPE / length reads of
those and SLOWLOG come after the end snapshot. Never ``KEYS *``; key names and SLOWLOG arguments
are truncated. Evidence dataclasses: :mod:`perfbook.evidence.redis`.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from perfbook.config import Config
from perfbook.evidence.redis import RedisEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.redis_build import (
    KeyScanCoverage,
    build_evidence,
    length_command,
    percentile,
    resp_commands,
)
from perfbook.redact import redact_text

# keys per SCAN page; their MEMORY USAGE rides with the next page's SCAN: ~1 ms of the server's loop
SCAN_COUNT = 500
SCAN_SHARE = 0.8  # the big-key scan's default budget: this share of the window, in the gaps between PINGs
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
                ctx.config.redis.url,
                single_connection_client=True,
                client_name=client_name,
                socket_connect_timeout=max(0.5, min(3.0, ctx.time_left())),
                socket_timeout=max(0.5, ctx.time_left()),
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


class _KeyScan:
    """The big-key scan of one database: its SCAN cursor and the page whose sizes are still to read."""

    def __init__(self, db: int) -> None:
        self.db = db
        self.cursor = 0
        self.pending: list[bytes] = []  # keys of the last SCAN page, MEMORY USAGE not read yet
        self.started = self.cursor_done = self.complete = False
        self.keys: int | None = None  # DBSIZE
        self.scanned = 0
        self.duration_s = 0.0


class _KeyScans:
    """The databases to scan in turn under one time budget, and the biggest keys seen so far."""

    def __init__(self, scans: list[_KeyScan], budget_s: float, limit_bytes: float) -> None:
        self.scans, self.budget_s, self.limit_bytes = scans, budget_s, limit_bytes
        self.index = 0
        self.spent_s = 0.0
        self.scanned = 0
        self.over_limit = 0
        self.top: dict[tuple[int, bytes], int] = {}  # only the biggest few: 10 M key names would not fit
        self.floor = -1  # a key this size or smaller cannot enter the top any more

    def current(self) -> _KeyScan | None:
        return self.scans[self.index] if self.index < len(self.scans) else None

    def next(self) -> None:
        self.index += 1

    def stop(self) -> None:
        self.index = len(self.scans)

    def spent(self, seconds: float) -> None:
        self.spent_s += seconds
        if (scan := self.current()) is not None:
            scan.duration_s += seconds

    def add(self, db: int, keys: list[bytes], sizes: list[Any]) -> None:
        """MEMORY USAGE answers of one page (None: the key is gone since SCAN returned it)."""
        scan = self.current()
        assert scan is not None
        read = [(key, size) for key, size in zip(keys, sizes, strict=True) if isinstance(size, int)]
        scan.scanned += len(read)
        self.scanned += len(read)
        for key, size in read:
            if size <= self.floor:  # most keys: smaller than the smallest of the top ten
                continue
            if size >= self.limit_bytes and (db, key) not in self.top:
                self.over_limit += 1
            self.top[(db, key)] = size
            if len(self.top) > 4 * TOP_BIG_KEYS:
                self.top = dict(self.biggest())
                self.floor = min(self.top.values())

    def biggest(self) -> list[tuple[tuple[int, bytes], int]]:
        return sorted(self.top.items(), key=lambda kv: -kv[1])[:TOP_BIG_KEYS]

    def coverage(self) -> KeyScanCoverage:
        """What the scan covered, for the evidence."""
        return KeyScanCoverage(
            [(s.db, s.keys, s.scanned, s.complete, s.duration_s) for s in self.scans if s.started],
            self.budget_s,
            self.spent_s,
            self.over_limit,
        )


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
        return "authentication failed: " + redact_text(
            text.removeprefix("WRONGPASS ").removeprefix("NOAUTH ")
        )
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
        out: list[Any] = []
        try:  # one timeout for the round trip: redis-py's own, per reply, costs more than MEMORY USAGE
            async with asyncio.timeout(max(0.5, self.ctx.time_left())):
                await conn.send_packed_command(resp_commands(commands))
                for _ in commands:
                    try:
                        out.append(await conn.read_response(timeout=math.inf))
                    except rex.ResponseError as err:
                        out.append(err)
        except TimeoutError:
            await conn.disconnect(nowait=True)
            raise rex.TimeoutError("Timeout reading a pipelined answer") from None
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
        rtts_ms, lags_ms, scans = await self._window(window_started, window_end)
        info_end = await self.client.info("all")
        duration_s = ctx.clock() - window_started
        big = scans.biggest()
        details, slowlog = {}, []
        if ctx.time_left() > 2 * round_trip_s + 0.05:
            details = await self._key_details([k for k, _ in big])
            slowlog = await self._slowlog()
        else:
            self.notes.append("key types and SLOWLOG skipped: the time budget ran short")
        data = build_evidence(
            ctx.config,
            info_start,
            info_end,
            duration_s,
            rtts_ms,
            big,
            details,
            scans.coverage(),
            slowlog,
            self.db,
            self.notes,
            lags_ms,
        )
        data.latency.p99_net_ms = net_p99_ms(ctx.less_own_stalls(self.ping_spans))
        status: ProbeStatus = "partial" if data.reset_detected or self.notes else "ok"
        return Evidence("redis", status, 0.0, data=data, reason="; ".join(self.notes)[:300] or None)

    async def _window(self, started: float, window_end: float) -> tuple[list[float], list[float], _KeyScans]:
        """PINGs across the window with big-key scanning in the gaps, and this event loop's own lag."""
        lags_ms: list[float] = []
        stop = asyncio.Event()
        monitor = asyncio.create_task(self._loop_lag(stop, lags_ms))
        try:
            rtts_ms, scans = await self._pings_and_scan(started, window_end)
        finally:
            stop.set()  # never cancelled: it ends at its next tick
            await monitor
        return rtts_ms, lags_ms, scans

    async def _loop_lag(self, stop: asyncio.Event, lags_ms: list[float]) -> None:
        """How late this event loop wakes a sleeper: other probes' work on the same loop (or a busy
        machine) inflates a measured PING by as much, which is not Redis's latency. Real time on
        purpose: it measures the real loop, and a test's fake sleep could never yield to it."""
        while not stop.is_set():
            t0 = time.monotonic()
            await asyncio.sleep(LAG_TICK_S)
            lags_ms.append(max(0.0, (time.monotonic() - t0 - LAG_TICK_S) * 1000))

    async def _pings_and_scan(self, started: float, window_end: float) -> tuple[list[float], _KeyScans]:
        """PING at evenly spaced times; scan for big keys in the gaps (bounded in keys and time)."""
        ctx = self.ctx
        cfg = ctx.config.redis
        span_s = window_end - started
        budget_s = min(cfg.big_keys_budget_s or span_s * SCAN_SHARE, span_s)
        dbs = [self.db] + ([cfg.queue_db] if cfg.queue_db is not None and cfg.queue_db != self.db else [])
        scans = _KeyScans(
            [_KeyScan(db) for db in dbs] if cfg.big_keys_sample else [],
            budget_s,
            ctx.config.thresholds.redis_big_key_mb * 2**20,
        )
        rtts_ms: list[float] = []
        # Mid-points of PING_SAMPLES slices: away from the window's edges, where the other probes
        # parse their snapshots on this same event loop and would inflate a round trip.
        for i in range(PING_SAMPLES):
            target = started + span_s * (i + 0.5) / PING_SAMPLES
            while (
                scans.current() is not None
                and scans.spent_s < budget_s
                and scans.scanned < cfg.big_keys_sample
                and ctx.clock() < target - 0.005
            ):
                t0 = ctx.clock()
                await self._scan_step(scans, cfg.big_keys_sample - scans.scanned)
                scans.spent(ctx.clock() - t0)
            await ctx.sleep(max(0.0, target - ctx.clock()))
            t0 = ctx.clock()
            await self.client.ping()
            t1 = ctx.clock()
            self.ping_spans.append((t0, t1))
            rtts_ms.append((t1 - t0) * 1000)
        return rtts_ms, scans

    async def _scan_step(self, scans: _KeyScans, room: int) -> None:
        """One round trip: the sizes of the previous SCAN page and the next page (DBSIZE first).

        Sizes of keys already read on an earlier page (SCAN may repeat a key) are read again and
        kept once; the count of scanned keys may include such a repeat, never more than DBSIZE.
        """
        scan = scans.current()
        assert scan is not None
        pending, scan.pending = scan.pending[: max(0, room)], []
        commands: list[tuple] = [("DBSIZE",)] if scan.keys is None and not scan.started else []
        commands += [("MEMORY", "USAGE", k) for k in pending]
        if not scan.cursor_done:
            commands.append(("SCAN", scan.cursor, "COUNT", SCAN_COUNT))
        answers = await self._scan_round_trip(scan.db, commands)
        if answers is None:
            scans.next()
            return
        if not scan.started:
            scan.started = True
            if commands[0] == ("DBSIZE",):
                first = answers.pop(0)
                scan.keys = first if isinstance(first, int) else None
        sizes, page = answers[: len(pending)], answers[len(pending) :]
        refused = next((a for a in [*sizes, *page] if isinstance(a, Exception)), None)
        if refused is not None:  # an ACL without SCAN or MEMORY: the other figures still count
            what = "SCAN" if page and isinstance(page[0], Exception) else "MEMORY USAGE"
            self.notes.append(f"big keys: {what} refused: {redact_text(str(refused))[:120]}")
            self.scan_blocked = True
            scans.stop()
            return
        scans.add(scan.db, pending, sizes)
        if page:
            cursor, keys = page[0]
            scan.cursor, scan.pending = int(cursor), list(keys)
            scan.cursor_done = scan.cursor == 0
        if scan.cursor_done and not scan.pending:
            scan.complete = True
            scans.next()
        elif room <= len(pending):
            scans.stop()  # [redis] big_keys_sample reached

    async def _scan_round_trip(self, db: int, commands: list[tuple]) -> list[Any] | None:
        """``commands`` in database ``db`` in one round trip; None (noted) when ``db`` cannot be selected."""
        if db == self.db:
            return await self.pipeline(commands)
        answers = await self.pipeline([("SELECT", db), *commands, ("SELECT", self.db)])
        if isinstance(answers[0], Exception):
            self.notes.append(f"queue db {db} not sampled: {redact_text(str(answers[0]))[:120]}")
            return None
        return answers[1:-1]

    async def _key_details(
        self, keys: list[tuple[int, bytes]]
    ) -> dict[tuple[int, bytes], tuple[str, int | None]]:
        """TYPE and the type's length (STRLEN / LLEN / HLEN / SCARD / ZCARD / XLEN) of the biggest keys."""
        details: dict[tuple[int, bytes], tuple[str, int | None]] = {}
        for db in sorted({db for db, _ in keys}):
            names = [k for d, k in keys if d == db]
            types = await self._in_db(db, [("TYPE", k) for k in names])
            kinds = [t.decode() if isinstance(t, bytes) else str(t) for t in types]
            commands = [length_command(kind, k) for kind, k in zip(kinds, names, strict=True)]
            lengths = iter(await self._in_db(db, [c for c in commands if c]))
            details.update(
                {
                    (db, k): (kind, next(lengths) if c else None)
                    for k, kind, c in zip(names, kinds, commands, strict=True)
                }
            )
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
