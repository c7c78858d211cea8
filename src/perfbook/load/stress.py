"""Bounded stress tests of the data layer: concurrent PostgreSQL reads and Redis SET/GET pipelines.

Each runs ``concurrency`` clients until ``duration_s`` (or ``operations`` in total) and reports
throughput and latency percentiles from an HdrHistogram. Both are safe on a live system:
PostgreSQL sessions are read-only with a statement timeout, and the Redis keys are
perfbook's own (``perfbook:stress:<run>:…``, with a TTL) and deleted at the end — the
runbook's Lua loop, without leaving keys behind. ``perfbook stress connections`` reuses the
HTTP engine (see :mod:`perfbook.load.runner`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from perfbook.errors import PerfbookError, UsageError
from perfbook.load import hist
from perfbook.load.result import SCHEMA_VERSION
from perfbook.redact import redact_text, redact_url
from perfbook.sanitize import display_sql, strip_literals

DEFAULT_QUERY = "SELECT 1 /* perfbook stress */"

# Functions a "read" query must never call: they act on other sessions, the server or its files,
# and a read-only transaction does not stop them (pg_terminate_backend works in one).
FORBIDDEN_FUNCTIONS = re.compile(
    r"pg_(terminate|cancel|signal)_backend|pg_reload_conf|pg_rotate_logfile|pg_promote|pg_switch_wal"
    r"|pg_(try_)?advisory\w*|pg_stat\w*_reset\w*|pg_create_\w+|pg_drop_\w+|pg_replication_\w+|pg_logical_\w+"
    r"|pg_(read|ls|stat)_\w*(file|dir)\w*|pg_file_\w+|pg_wal_replay_\w+|pg_(start|stop|backup)_\w*|pg_notify"
    r"|pg_log_backend_memory_contexts|pg_import_system_collations|set_config|lo_\w+|dblink\w*|txid_current\w*"
    r"|pg_current_xact_id\w*|nextval|setval|query_to_xml\w*|pg_sleep_until"
)
# Volatile built-ins that change nothing (a volatile function is refused unless it is one of these).
HARMLESS_VOLATILE = frozenset(
    {
        "random",
        "random_normal",
        "setseed",
        "clock_timestamp",
        "timeofday",
        "gen_random_uuid",
        "pg_sleep",
        "pg_sleep_for",
        "statement_timestamp",
        "uuid_generate_v4",
    }
)
_NOT_FUNCTIONS = frozenset(
    {
        "in",
        "exists",
        "any",
        "all",
        "some",
        "values",
        "cast",
        "extract",
        "over",
        "filter",
        "lateral",
        "row",
        "array",
        "coalesce",
        "nullif",
        "greatest",
        "least",
        "when",
        "and",
        "or",
        "not",
        "on",
        "using",
        "from",
        "select",
        "where",
        "as",
        "join",
        "with",
        "interval",
        "within",
        "then",
        "else",
        "case",
        "by",
        "group",
        "order",
        "limit",
        "offset",
        "union",
    }
)
_CALL = re.compile(r"(?<![\w$.])((?:[a-z_][\w$]*\.)?[a-z_][\w$]*)\s*\(")
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|truncate|copy|call|do|lock|grant|revoke|alter|create|drop|"
    r"into|for\s+(update|share|no\s+key\s+update|key\s+share))\b"
)


def read_query_problem(query: str) -> str | None:
    """Why ``query`` is not one plain read (``SELECT`` / ``WITH … SELECT``), else None. Pure.

    >>> read_query_problem("SELECT count(*) FROM users WHERE email = 'a;b'") is None
    True
    >>> read_query_problem("SELECT pg_terminate_backend(pid) FROM pg_stat_activity")
    'it calls pg_terminate_backend(), which acts on other sessions or the server'
    >>> read_query_problem("DELETE FROM users")
    'only SELECT is allowed (it starts with DELETE)'
    """
    text = strip_literals(query).replace('"', "").lower().strip().rstrip(";").strip()
    if not text:
        return "the query is empty"
    if ";" in text:
        return "one statement only (it has a ; in the middle)"
    first = text.split(None, 1)[0]
    if first not in ("select", "with"):
        return f"only SELECT is allowed (it starts with {first.upper()})"
    write = _WRITE_WORDS.search(text)
    if write:
        return f"only reads are allowed (it has {write.group(0).upper()})"
    for name in called_functions(text):
        if FORBIDDEN_FUNCTIONS.fullmatch(name.rsplit(".", 1)[-1]):
            return f"it calls {name.rsplit('.', 1)[-1]}(), which acts on other sessions or the server"
    return None


def called_functions(sql: str) -> list[str]:
    """Names written as calls, ``name(`` or ``schema.name(``, lower-cased, SQL words left out."""
    names = [m.group(1).lower() for m in _CALL.finditer(strip_literals(sql).replace('"', "").lower())]
    return list(dict.fromkeys(n for n in names if n.rsplit(".", 1)[-1] not in _NOT_FUNCTIONS))


async def _volatile_problem(conn: Any, query: str) -> str | None:
    """Why a function the query calls may change something (volatile and not known harmless), else None."""
    names = sorted({n.rsplit(".", 1)[-1] for n in called_functions(query)} - HARMLESS_VOLATILE)
    if not names:
        return None
    cur = await conn.execute(
        "/* perfbook */ SELECT DISTINCT proname FROM pg_proc "
        "WHERE proname = ANY(%s) AND provolatile = 'v' ORDER BY 1",
        (names,),
    )
    volatile = [r[0] for r in await cur.fetchall()]
    if volatile:
        return f"it calls {volatile[0]}(), a volatile function that may write or act on the server"
    return None


@dataclass
class StressResult:
    """Totals of one stress test; ``operations`` counts queries, or Redis commands."""

    kind: str
    target: str
    concurrency: int
    operations: int = 0
    batches: int = 0
    duration_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    latency: Any = field(default_factory=hist.new_histogram)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "target": self.target,
            "concurrency": self.concurrency,
            "operations": self.operations,
            "duration_s": round(self.duration_s, 6),
            "ops_per_s": round(self.operations / self.duration_s, 3) if self.duration_s else 0.0,
            "errors": self.errors,
            "latency": hist.latency_summary(self.latency),
            **self.detail,
        }


async def _drive(
    result: StressResult, clients: list[Callable[[], Awaitable[int]]], duration_s: float, batches: int | None
) -> None:
    """Run every client's one-batch coroutine in a loop until the deadline or the batch budget."""
    budget = [batches if batches is not None else 1 << 62]
    deadline = perf_counter() + duration_s
    latencies: list[float] = []

    async def loop(one_batch: Callable[[], Awaitable[int]]) -> None:
        while budget[0] > 0 and perf_counter() < deadline:
            budget[0] -= 1
            started = perf_counter()
            try:
                done = await one_batch()  # not `+= await`: that reads the total before awaiting
            except Exception as err:  # noqa: BLE001 - any failure of the target is counted by type
                kind = type(err).__name__
                result.errors[kind] = result.errors.get(kind, 0) + 1
                await asyncio.sleep(0.01)
                continue
            latencies.append(perf_counter() - started)
            result.operations += done
            result.batches += 1

    started = perf_counter()
    await asyncio.gather(*(loop(c) for c in clients))
    result.duration_s = perf_counter() - started
    hist.record_batch(result.latency, latencies)


async def stress_postgres(
    dsn: str,
    *,
    query: str = DEFAULT_QUERY,
    concurrency: int = 10,
    duration_s: float = 10.0,
    operations: int | None = None,
    statement_timeout_ms: int = 3000,
    lock_timeout_ms: int = 100,
) -> StressResult:
    """``concurrency`` read-only sessions running ``query`` back to back, with the probe's timeouts.

    The query must be one plain read (:func:`read_query_problem`) calling no volatile function
    that is not known to be harmless; UsageError (exit 2) before any session runs it otherwise.
    """
    import psycopg

    problem = read_query_problem(query)
    if problem:
        raise UsageError(
            f"stress postgres --query refused: {problem}",
            hint="the stress test only reads: give one SELECT without side effects",
        )
    result = StressResult("postgres", redact_url(dsn), concurrency, detail={"query": display_sql(query)})
    options = (
        f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout_ms}"
        f" -c lock_timeout={lock_timeout_ms} -c idle_in_transaction_session_timeout={statement_timeout_ms}"
    )
    try:
        conns = [
            await psycopg.AsyncConnection.connect(dsn, autocommit=True, options=options, connect_timeout=5)
            for _ in range(concurrency)
        ]
    except psycopg.OperationalError as err:
        raise PerfbookError(
            f"stress postgres: cannot connect to {redact_url(dsn)}: {_first_line(err)}",
            hint="check [postgres] dsn or PERFBOOK_POSTGRES_DSN, or pass --dsn",
        ) from None
    problem = await _volatile_problem(conns[0], query)
    if problem:
        for conn in conns:
            await conn.close()
        raise UsageError(
            f"stress postgres --query refused: {problem}",
            hint="the stress test only reads: give one SELECT without side effects",
        )

    def client(conn: psycopg.AsyncConnection) -> Callable[[], Awaitable[int]]:
        async def one() -> int:
            cur = await conn.execute(query)
            if cur.description is not None:
                await cur.fetchall()
            return 1

        return one

    try:
        await _drive(result, [client(c) for c in conns], duration_s, operations)
    finally:
        for conn in conns:
            await conn.close()
    return result


async def stress_redis(
    url: str,
    *,
    concurrency: int = 10,
    duration_s: float = 10.0,
    pipeline: int = 100,
    operations: int | None = None,
    value_bytes: int = 64,
) -> StressResult:
    """``concurrency`` clients sending pipelines of ``pipeline`` SET (with a TTL) + GET pairs."""
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError

    run_id = uuid.uuid4().hex[:12]
    prefix = f"perfbook:stress:{run_id}"
    result = StressResult(
        "redis", redact_url(url), concurrency, detail={"pipeline": pipeline, "key_prefix": prefix}
    )
    client = aioredis.Redis.from_url(
        url, max_connections=concurrency + 1, socket_timeout=5, socket_connect_timeout=5
    )
    value = b"x" * value_bytes
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as err:
        await client.aclose()
        raise PerfbookError(
            f"stress redis: cannot connect to {redact_url(url)}: {err}",
            hint="check [redis] url or PERFBOOK_REDIS_URL, or pass --url",
        ) from None

    def worker(index: int) -> Callable[[], Awaitable[int]]:
        keys = [f"{prefix}:{index}:{i}" for i in range(pipeline)]

        async def one() -> int:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.set(key, value, ex=60)  # a TTL, in case the clean-up below never runs
                pipe.get(key)
            await pipe.execute()
            return 2 * pipeline

        return one

    batches = None if operations is None else max(1, operations // (2 * pipeline))
    try:
        await _drive(result, [worker(i) for i in range(concurrency)], duration_s, batches)
    finally:
        keys = [f"{prefix}:{c}:{i}" for c in range(concurrency) for i in range(pipeline)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        result.detail["keys_left"] = len(await client.keys(f"{prefix}:*"))
        await client.aclose()
    return result


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return redact_text(text.splitlines()[0]) if text else type(err).__name__
