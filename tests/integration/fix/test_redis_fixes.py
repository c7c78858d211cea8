"""redis.* fixes performed for real on a private Redis, checked from the outside."""

from __future__ import annotations

import pytest
import redis
from fixkit import Runner, make_cfg

from perfbook.errors import PerfbookError, UsageError
from perfbook.fix.context import url_with_db


def _run(tmp_path, store, url: str, **redis_cfg) -> Runner:
    return Runner(make_cfg(tmp_path, redis={"url": url, **redis_cfg}), store)


@pytest.fixture
def run(redis_url: str, tmp_path, store) -> Runner:
    return _run(tmp_path, store, redis_url)


@pytest.fixture
def stack(redis_url: str):
    """db 0: the cache (strings, a hash); db 1: the WebSocket queue (a list and a stream)."""
    cache, queue = (
        redis.Redis.from_url(url_with_db(redis_url, 0)),
        redis.Redis.from_url(url_with_db(redis_url, 1)),
    )
    cache.mset({f"cache:users:{i}": "x" * 10 for i in range(30)})
    cache.mset({f"cache:agents:{i}": "y" for i in range(7)})
    cache.hset("cache:meta", mapping={"a": 1})
    queue.rpush("ws:queue", *[f"msg{i}" for i in range(5)])
    queue.xadd("ws:events", {"k": "v"})
    yield cache, queue
    cache.close()
    queue.close()


def test_flush_cache_empties_db0_and_leaves_the_queue(run: Runner, stack) -> None:
    cache, queue = stack
    plan = run.plan("redis.flush_cache")
    assert plan.steps == ["SELECT 0", "FLUSHDB ASYNC"] and plan.affects[0]["keys"] == 38
    assert cache.dbsize() == 38, "a plan must not change anything"
    result = run.apply("redis.flush_cache")
    assert result.outcome.status == "done"
    assert cache.dbsize() == 0
    assert (
        queue.lrange("ws:queue", 0, -1) == [f"msg{i}".encode() for i in range(5)]
        and queue.xlen("ws:events") == 1
    )
    assert result.outcome.figures["db 0 keys"] == {"before": 38, "after": 0}


def test_flush_cache_refuses_the_queue_db(redis_url: str, tmp_path, store, stack) -> None:
    _, queue = stack
    run = _run(tmp_path, store, redis_url, cache_db=1, queue_db=1)
    plan = run.plan("redis.flush_cache")
    assert plan.refusal and "redis.queue_db" in plan.refusal and "WebSocket" in plan.refusal
    with pytest.raises(PerfbookError, match="queue"):
        run.apply("redis.flush_cache")
    assert queue.llen("ws:queue") == 5
    assert run.audit("redis.flush_cache")[0]["outcome"] == "refused"


def test_flush_cache_refuses_a_db_with_queue_like_keys(redis_url: str, tmp_path, store, stack) -> None:
    _, queue = stack
    # misconfigured: the queue db as the cache
    run = _run(tmp_path, store, redis_url, cache_db=1, queue_db=None)
    plan = run.plan("redis.flush_cache")
    assert plan.refusal and "lists/streams" in plan.refusal and "ws:queue" in plan.refusal
    assert queue.dbsize() == 2


def test_delete_pattern_removes_exactly_the_matching_keys(run: Runner, stack) -> None:
    cache, queue = stack
    plan = run.plan("redis.delete_pattern", pattern="cache:users:*", batch_size=4, allow_share=0.8)
    assert plan.affects[0]["keys"] == 30 and len(plan.affects[0]["sample"]) == 10
    assert "8 batch(es)" in plan.steps[1]
    result = run.apply("redis.delete_pattern", pattern="cache:users:*", batch_size=4, allow_share=0.8)
    assert result.outcome.status == "done"
    assert sorted(cache.keys()) == sorted([f"cache:agents:{i}".encode() for i in range(7)] + [b"cache:meta"])
    assert queue.dbsize() == 2
    assert result.outcome.figures["keys matching cache:users:*"] == {"before": 30, "after": 0}


def test_delete_pattern_replans_when_the_key_count_changed(run: Runner, stack) -> None:
    cache, _ = stack
    asked = []

    def confirm(plan) -> bool:
        asked.append(plan.affects[0]["keys"])
        cache.set("cache:agents:new", "z")  # written between the confirmation and the apply
        return True

    result = run.apply("redis.delete_pattern", pattern="cache:agents:*", confirm=confirm)
    assert result.replanned and asked[:2] == [7, 8]
    assert not cache.keys("cache:agents:*")


def test_delete_pattern_refuses_the_queue_db_and_match_all(run: Runner, stack) -> None:
    assert run.plan("redis.delete_pattern", pattern="ws:*", db=1).refusal
    with pytest.raises(UsageError, match="every key"):
        run.plan("redis.delete_pattern", pattern="*")


@pytest.mark.parametrize("pattern", ["*", "**", "?*", "*?", "[a-z]*", "[^]*", "[c]*", "???*"])
def test_delete_pattern_refuses_every_match_all_spelling(
    redis_url: str, tmp_path, store, pattern: str
) -> None:
    """A pattern with no literal outside wildcards and classes: refused before a key is read (#12)."""
    other = redis.Redis.from_url(url_with_db(redis_url, 2))
    other.mset({f"k{i}": i for i in range(200)})
    run = _run(tmp_path, store, redis_url, queue_db=None)
    with pytest.raises(UsageError, match="matches every key"):
        run.apply("redis.delete_pattern", pattern=pattern, db=2)
    assert other.dbsize() == 200
    other.close()


def test_delete_pattern_refuses_a_pattern_that_counts_as_every_key(run: Runner, redis_url: str) -> None:
    """Literal but matching the whole db: the dry-run count against DBSIZE refuses it, whatever the share."""
    other = redis.Redis.from_url(url_with_db(redis_url, 3))
    other.mset({f"k{i}": i for i in range(50)})
    plan = run.plan("redis.delete_pattern", pattern="k*", db=3, allow_share=1.0)
    assert plan.refusal and "every key of db 3 (50 of 50" in plan.refusal and "flush_cache" in plan.refusal
    with pytest.raises(PerfbookError, match="every key"):
        run.apply("redis.delete_pattern", pattern="k*", db=3, allow_share=1.0)
    assert other.dbsize() == 50
    other.close()


def test_delete_pattern_caps_the_share_of_the_db(run: Runner, stack) -> None:
    cache, _ = stack
    plan = run.plan("redis.delete_pattern", pattern="cache:users:*")  # 30 of 38: over the default half
    assert (
        plan.refusal
        and "79% of db 0 (30 of 38 keys)" in plan.refusal
        and "--allow-share 0.84" in plan.refusal
    )
    assert cache.dbsize() == 38
    assert (
        run.apply("redis.delete_pattern", pattern="cache:users:*", allow_share=0.84).outcome.status == "done"
    )
    assert cache.dbsize() == 8


def test_set_policy_and_maxmemory_show_old_and_new(run: Runner, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    plan = run.plan("redis.set_policy", policy="allkeys-lru")
    assert plan.affects == [{"setting": "maxmemory-policy", "old": "noeviction", "new": "allkeys-lru"}]
    assert plan.steps == ["CONFIG SET maxmemory-policy allkeys-lru"]
    assert any("CONFIG REWRITE" in n for n in plan.notes)
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert run.apply("redis.set_policy", policy="allkeys-lru").outcome.status == "done"
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"

    result = run.apply("redis.set_maxmemory", maxmemory="64mb")
    assert result.outcome.figures["maxmemory"] == {"before": "0", "after": str(64 * 1024**2)}
    with pytest.raises(UsageError, match="without a config file"):
        run.plan("redis.set_maxmemory", maxmemory="32mb", rewrite=True)
    with pytest.raises(UsageError, match="not a Redis policy"):
        run.plan("redis.set_policy", policy="lru")
    client.close()
