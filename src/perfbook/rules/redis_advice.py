"""The runbook's cache advice made precise for THIS instance: eviction policy and maxmemory. Pure.

The runbook says ``config set maxmemory-policy allkeys-lru``. What that changes depends on what
the instance holds: allkeys-* evicts from every database, so with the WebSocket message queue in
``queue_db`` it would drop queued messages; volatile-* evicts only keys with a TTL, and with no
TTLs at all behaves like noeviction. These functions say which applies, with the instance's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfbook.codes import action
from perfbook.evidence.redis import RedisEvidence
from perfbook.model import Action
from perfbook.units import format_bytes

HEADROOM = 1.25  # suggested maxmemory: the peak plus a quarter
HOST_SHARE = 0.75  # never suggest more than this share of the host's memory


@dataclass(frozen=True)
class PolicyAdvice:
    """The policy to move to (None: keep the current one) and why, in this instance's numbers."""

    policy: str | None
    reason: str


def redis_cli(*args: str, db: int | None = None) -> str:
    """The manual form, against the configured server (never the default localhost:6379)."""
    n = f" -n {db}" if db is not None else ""
    return f'redis-cli -u "$REDIS_URL"{n} ' + " ".join(args)


def policy_advice(data: RedisEvidence) -> PolicyAdvice:
    """What ``allkeys-lru`` (or another policy) would change here, and which one fits."""
    mem, policy = data.memory, data.memory.policy
    dbs = {k.db: k for k in data.keyspace}
    cache = dbs.get(data.cache_db)
    others = [k for k in data.keyspace if k.db != data.cache_db]
    others_no_ttl = sum(k.keys - k.expires for k in others)
    cache_ttl_share = cache.expires / cache.keys if cache and cache.keys else 0.0
    if mem.maxmemory_bytes == 0:
        return PolicyAdvice(
            None,
            "maxmemory is 0: no policy applies until a limit is set; Redis grows until the "
            "host's OOM killer steps in",
        )
    if policy.startswith("allkeys"):
        if others_no_ttl:
            return PolicyAdvice(
                "volatile-lru",
                f"{policy} also evicts the {others_no_ttl:,} keys without a TTL in "
                f"db {', '.join(str(k.db) for k in others)} (queue_db={data.queue_db}); "
                "volatile-lru evicts only keys with a TTL",
            )
        return PolicyAdvice(
            None,
            f"{policy} already evicts instead of refusing writes; evictions mean the working "
            "set is larger than maxmemory",
        )
    if policy.startswith("volatile") and not any(k.expires for k in data.keyspace):
        target = "allkeys-lru" if not others_no_ttl else None
        return PolicyAdvice(
            target,
            f"{policy} with no key carrying a TTL evicts nothing: writes fail like noeviction"
            + ("" if target else "; give the cache keys TTLs (the queue db must not be evicted)"),
        )
    if policy != "noeviction":
        return PolicyAdvice(
            None, f"{policy} evicts keys with a TTL ({cache_ttl_share * 100:.0f} % of db {data.cache_db})"
        )
    if not others_no_ttl:
        return PolicyAdvice(
            "allkeys-lru",
            f"with allkeys-lru, at {format_bytes(mem.maxmemory_bytes)} Redis evicts the "
            f"least recently used of the {cache.keys if cache else 0:,} keys instead of "
            "refusing writes with OOM (noeviction now)",
        )
    if cache_ttl_share >= 0.9:
        return PolicyAdvice(
            "volatile-lru",
            f"allkeys-lru would also evict the {others_no_ttl:,} keys without a TTL "
            f"outside db {data.cache_db} (the queue); volatile-lru evicts only the "
            f"{cache_ttl_share * 100:.0f} % of cache keys that have a TTL",
        )
    return PolicyAdvice(
        None,
        f"allkeys-lru would also evict the {others_no_ttl:,} queue keys outside db {data.cache_db} "
        f"(messages lost), and only {cache_ttl_share * 100:.0f} % of cache keys have a TTL for "
        "volatile-lru: give cache keys TTLs first, or move the queue to its own Redis",
    )


def policy_action(data: RedisEvidence) -> Action | None:
    """``redis.set_policy`` when a different policy fits, with the reason as its summary."""
    advice = policy_advice(data)
    if advice.policy is None or advice.policy == data.memory.policy:
        return None
    return action(
        "redis.set_policy",
        f"maxmemory-policy {advice.policy}: {advice.reason}",
        redis_cli("CONFIG SET maxmemory-policy", advice.policy),
        policy=advice.policy,
    )


def suggested_maxmemory(data: RedisEvidence) -> int | None:
    """The peak plus headroom, when the host has that much to give (None otherwise)."""
    mem = data.memory
    target = int(max(mem.peak_bytes, mem.used_bytes, mem.maxmemory_bytes) * HEADROOM)
    target = (target // 2**20 + 1) * 2**20
    if mem.system_bytes and target > mem.system_bytes * HOST_SHARE:
        return None
    return target


def maxmemory_action(data: RedisEvidence) -> Action | None:
    """``redis.set_maxmemory`` to the suggested size."""
    target = suggested_maxmemory(data)
    if target is None or target <= data.memory.maxmemory_bytes:
        return None
    return action(
        "redis.set_maxmemory",
        f"raise maxmemory to {format_bytes(target)} (peak + 25 %)",
        redis_cli("CONFIG SET maxmemory", str(target)),
        maxmemory=target,
    )


def flush_action(data: RedisEvidence) -> Action | None:
    """``redis.flush_cache`` of the cache database only, never when it is also the queue's."""
    if data.queue_db is not None and data.queue_db == data.cache_db:
        return None
    return action(
        "redis.flush_cache",
        f"empty the cache database {data.cache_db} only (never FLUSHALL: db {data.queue_db} holds the queue)",
        redis_cli("FLUSHDB ASYNC", db=data.cache_db),
        db=data.cache_db,
    )


def big_key_actions(pattern: str, db: int) -> list[Action]:
    """What a big key asks of a person: find what writes it; UNLINK only a key they name. Never a
    delete by pattern: a big key is usually user data or a cache nobody bounds, and deleting it
    hides the writer until the key grows back."""
    prefix = pattern.rstrip("*")
    return [
        Action(
            "redis.find_writer",
            f"find what writes {pattern} in db {db} and why it grows (a whole collection "
            "cached in one key, a list nobody trims): bound it there",
            manual=f"grep -rn {prefix!r} <your app's source>  # and, per key: "
            + redis_cli("MEMORY USAGE", "'<key>'", db=db)
            + "; "
            + redis_cli("OBJECT IDLETIME", "'<key>'", db=db),
        ),
        Action(
            "redis.unlink_key",
            "only once its owner agrees, free a key you named (UNLINK frees it in the "
            "background, unlike DEL)",
            manual=redis_cli("UNLINK", "'<the key you named>'", db=db),
        ),
    ]


def scan_offpeak_action(db: int) -> Action:
    """Read every key's size off-peak, as the triage window could not."""
    return Action(
        "redis.scan_keys",
        f"read every key's size in db {db} off-peak (SCAN, pausing between pages)",
        manual=redis_cli("--memkeys -i 0.01", db=db),
    )


def budget_action() -> Action:
    """Give the big-key scan the time it needs."""
    return Action(
        "redis.scan_budget",
        "give the big-key scan more time: [redis] big_keys_budget_s (within --window)",
        manual="perfbook triage --only redis --window 10s  # with [redis] big_keys_budget_s = 9",
    )
