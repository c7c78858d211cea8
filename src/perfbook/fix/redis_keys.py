"""redis.flush_cache and redis.delete_pattern: never FLUSHALL, never the WebSocket queue's database.

The runbook's ``redis-cli flushall`` also wipes db 1, the WebSocket message queue. Here a flush
touches only ``[redis] cache_db`` (``FLUSHDB ASYNC``), and refuses when that db is the queue's or
holds queue-like keys (lists, streams). Deleting by pattern is SCAN + UNLINK in bounded batches on
the chosen database, never ``KEYS`` and never DEL piped to the wrong server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from perfbook.errors import UsageError
from perfbook.fix.base import Fix, Outcome, OutcomeStatus, Param, Plan, VerifySpec, fingerprint
from perfbook.fix.context import FixContext

QUEUE_TYPES = frozenset({"list", "stream"})
SCAN_COUNT = 1000
SAMPLE_KEYS = 10
DEFAULT_ALLOW_SHARE = 0.5  # one apply deletes at most half of a db unless --allow-share says more


def glob_literals(pattern: str) -> str:
    r"""The literal characters of a Redis glob: what is left outside ``*``, ``?`` and ``[…]`` classes.

    A pattern with none matches every key (or every key of some length or first letters): that is
    decided by meaning, not by spelling, so ``?*``, ``*?``, ``[a-z]*`` and ``[^]*`` are all caught.

    >>> glob_literals("cache:users:*"), glob_literals("?*"), glob_literals("[^]*"), glob_literals(r"\*")
    ('cache:users:', '', '', '*')
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        elif c == "[":
            i = _class_end(pattern, i)
        elif c in "*?":
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """The index after the ``]`` closing the class at ``start`` (Redis: ``[^]`` is a whole class)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def short_key(key: bytes | str, limit: int = 40) -> str:
    """A key name fit for output: decoded, truncated (key names can carry personal data).

    >>> short_key(b"session:" + b"x" * 50)
    'session:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    """
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scan_keys(
    client: Any, pattern: str | None, budget_s: float = 5.0, max_keys: int | None = None
) -> Iterator[bytes]:
    """SCAN the database (MATCH ``pattern``) in pages of SCAN_COUNT, stopping at the time budget."""
    deadline = time.monotonic() + budget_s
    cursor, seen = 0, 0
    while True:
        cursor, keys = client.scan(cursor=cursor, match=pattern, count=SCAN_COUNT)
        for key in keys:
            yield key
            seen += 1
            if max_keys is not None and seen >= max_keys:
                return
        if cursor == 0 or time.monotonic() > deadline:
            return


def key_types(client: Any, keys: list[bytes]) -> list[str]:
    """TYPE of each key, in one pipeline."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    return [t.decode() if isinstance(t, bytes) else str(t) for t in pipe.execute()]


def queue_like(client: Any, max_keys: int = 10000) -> list[str]:
    """Names (truncated) of list / stream keys in a bounded SCAN of the client's database."""
    keys = list(scan_keys(client, None, max_keys=max_keys))
    return [short_key(k) for k, t in zip(keys, key_types(client, keys), strict=True) if t in QUEUE_TYPES]


class RedisFlushCache(Fix):
    """FLUSHDB ASYNC on the cache database only."""

    id = "redis.flush_cache"
    changes = "empties [redis] cache_db only (FLUSHDB ASYNC); refuses the queue's db and queue-like keys"
    layer = "redis"
    params = (Param("db", "int", "must be [redis] cache_db: the only database a flush may touch"),)

    def plan(self, ctx: FixContext) -> Plan:
        db, queue_db = ctx.cfg.redis.cache_db, ctx.cfg.redis.queue_db
        if self.values["db"] is not None and self.values["db"] != db:
            return self.new_plan(
                ctx,
                f"refused: db {self.values['db']}",
                fingerprint=fingerprint(db),
                refusal=(
                    f"db {self.values['db']} is not redis.cache_db ({db}): only the cache database may be flushed"
                ),
            )
        if queue_db is not None and db == queue_db:
            return self.new_plan(
                ctx,
                f"refused: db {db}",
                fingerprint=fingerprint(db),
                refusal=(
                    f"redis.cache_db = {db} is also redis.queue_db (the WebSocket message queue): "
                    "flushing it would drop queued messages; fix [redis] cache_db"
                ),
            )
        client = ctx.redis(db)
        queues = queue_like(client)
        keys = client.dbsize()
        sample = [short_key(k) for k in scan_keys(client, None, max_keys=SAMPLE_KEYS)]
        affects = [{"db": db, "keys": keys, "sample": sample}]
        if queues:
            return self.new_plan(
                ctx,
                f"refused: db {db}",
                affects=affects,
                fingerprint=fingerprint(db),
                refusal=(
                    f"db {db} holds queue-like keys (lists/streams: {', '.join(queues[:5])}): it is not only a cache; "
                    "delete the cache's keys with redis.delete_pattern instead"
                ),
            )
        if keys == 0:
            return self.new_plan(
                ctx, f"nothing to do: db {db} is empty", affects=affects, fingerprint=fingerprint(db)
            )
        plan = self.new_plan(
            ctx,
            f"flush cache db {db} ({keys} keys)",
            steps=[f"SELECT {db}", "FLUSHDB ASYNC"],
            affects=affects,
            fingerprint=fingerprint(db),
            notes=["every cached value will be recomputed: expect a burst of misses and backend load"],
        )
        plan.data.update(db=db, keys=keys)
        return plan

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        client = ctx.redis(plan.data["db"])
        before = client.dbsize()
        client.flushdb(asynchronous=True)
        after = client.dbsize()
        return Outcome(
            "done",
            f"db {plan.data['db']} flushed ({before} keys)",
            done=plan.steps,
            figures={f"db {plan.data['db']} keys": {"before": before, "after": after}},
        )

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("redis",), ("redis.memory_high", "redis.oom_rejections"), kpis=("cache_hit_rate",))


class RedisDeletePattern(Fix):
    """Delete the keys matching a pattern, SCAN + UNLINK in bounded batches."""

    id = "redis.delete_pattern"
    changes = (
        "deletes keys matching --pattern in one db (SCAN + UNLINK in batches); never the queue's db, "
        "never every key, at most --allow-share of the db"
    )
    layer = "redis"
    params = (
        Param("pattern", "str", "glob with a literal part, e.g. 'cache:users:*'", required=True),
        Param("db", "int", "database (default [redis] cache_db)"),
        Param("batch_size", "int", "keys per UNLINK", default=500),
        Param(
            "allow_share",
            "float",
            "most of the db's keys one apply may delete, 0-1",
            default=DEFAULT_ALLOW_SHARE,
        ),
    )

    def plan(self, ctx: FixContext) -> Plan:
        db = ctx.cfg.redis.cache_db if self.values["db"] is None else self.values["db"]
        pattern, batch, share = (
            self.values["pattern"],
            max(1, self.values["batch_size"]),
            self.values["allow_share"],
        )
        if not glob_literals(pattern):
            raise UsageError(
                f"--pattern {pattern!r} matches every key: it has no literal character outside "
                "*, ? and [classes]",
                hint="name the keys' prefix (cache:users:*), or empty the "
                "cache database with redis.flush_cache",
            )
        if not 0 < share <= 1:
            raise UsageError(f"--allow-share must be more than 0 and at most 1, got {share:g}")
        ident = fingerprint([db, pattern])
        if ctx.cfg.redis.queue_db is not None and db == ctx.cfg.redis.queue_db:
            return self.new_plan(
                ctx,
                f"refused: db {db}",
                fingerprint=ident,
                refusal=(
                    f"db {db} is redis.queue_db (the WebSocket message queue); deleting there loses messages"
                ),
            )
        client = ctx.redis(db)
        total, counted = client.dbsize(), _Counted(client, pattern)
        keys = counted.keys
        sample = keys[:SAMPLE_KEYS]
        types = key_types(client, sample)
        affects = [
            {
                "db": db,
                "pattern": pattern,
                "keys": len(keys),
                "db_keys": total,
                "sample": [f"{short_key(k)} ({t})" for k, t in zip(sample, types, strict=True)],
            }
        ]
        ident = fingerprint([db, pattern, len(keys)])
        if not keys:
            return self.new_plan(
                ctx,
                f"nothing to do: no key matches {pattern!r} in db {db}",
                affects=affects,
                fingerprint=ident,
            )
        refusal = _share_refusal(pattern, db, len(keys), total, share)
        if refusal:
            return self.new_plan(
                ctx, f"refused: {pattern!r} in db {db}", affects=affects, fingerprint=ident, refusal=refusal
            )
        max_delete = max(1, int(share * total))
        batches = -(-len(keys) // batch)
        steps = [
            f"SELECT {db}",
            f"SCAN 0 MATCH {pattern} COUNT {SCAN_COUNT} … ; UNLINK <= {batch} keys at a time"
            f" ({len(keys)} keys, {batches} batch(es); at most {max_delete})",
        ]
        notes = [f"matching keys of type {t} (queue-like)" for t in sorted(set(types) & QUEUE_TYPES)]
        if not counted.complete:
            notes.append(
                f"SCAN stopped at its time budget: {len(keys)} is a lower bound; the apply stops at "
                f"{max_delete} keys ({share:.0%} of {total})"
            )
        plan = self.new_plan(
            ctx,
            f"delete {len(keys)} key(s) matching {pattern!r} in db {db}"
            f" ({len(keys) / total:.0%} of its {total})",
            steps=steps,
            affects=affects,
            notes=notes,
            fingerprint=ident,
        )
        plan.data.update(db=db, pattern=pattern, batch=batch, keys=len(keys), max_delete=max_delete)
        return plan

    def apply(self, ctx: FixContext, plan: Plan) -> Outcome:
        client = ctx.redis(plan.data["db"])
        deleted, batch, cap = 0, [], plan.data["max_delete"]
        for key in scan_keys(client, plan.data["pattern"], budget_s=60.0, max_keys=cap):
            batch.append(key)
            if len(batch) >= plan.data["batch"]:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
        left = sum(1 for _ in scan_keys(client, plan.data["pattern"]))
        figures = {f"keys matching {plan.data['pattern']}": {"before": plan.data["keys"], "after": left}}
        status: OutcomeStatus = "done" if left == 0 else "partial"
        return Outcome(
            status,
            f"deleted {deleted} key(s) from db {plan.data['db']}",
            done=[f"UNLINK {deleted} keys"],
            not_done=[f"{left} matching keys remain (new ones written meanwhile?)"] if left else [],
            figures=figures,
        )

    def verify(self, plan: Plan) -> VerifySpec:
        return VerifySpec(("redis",), ("redis.big_keys", "redis.memory_high"), kpis=("cache_hit_rate",))


class _Counted:
    """The keys a bounded SCAN of the whole database found, and whether it went all the way round."""

    def __init__(self, client: Any, pattern: str, budget_s: float = 5.0) -> None:
        deadline = time.monotonic() + budget_s
        cursor, self.keys, self.complete = 0, [], False
        while time.monotonic() <= deadline:
            cursor, keys = client.scan(cursor=cursor, match=pattern, count=SCAN_COUNT)
            self.keys += keys
            if cursor == 0:
                self.complete = True
                break


def _share_refusal(pattern: str, db: int, matched: int, total: int, share: float) -> str | None:
    """Why deleting ``matched`` of ``total`` keys is refused (all of them, or over the share), else None."""
    if total and matched >= total:
        return (
            f"{pattern!r} matches every key of db {db} ({matched} of {total}, counted with SCAN): "
            "empty the cache database with redis.flush_cache instead"
        )
    if total and matched / total > share:
        return (
            f"{pattern!r} matches {matched / total:.0%} of db {db} ({matched} of {total} keys), over "
            f"--allow-share {share:g}; narrow the pattern, "
            f"or pass --allow-share {min(1.0, round(matched / total + 0.05, 2)):g}"
        )
    return None
