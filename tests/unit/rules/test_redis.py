"""Redis rules, KPI and eviction-policy advice on recorded evidence (tests/fixtures/evidence/redis_*.json).

The recordings come from tests/integration/probes/test_redis.py (PERFBOOK_RECORD=1).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config
from perfbook.evidence.redis import RedisBigKey, RedisEvidence, RedisKeyScan, RedisKeyspace
from perfbook.model import Evidence, Level
from perfbook.rules import redis as rules
from perfbook.rules.redis_advice import policy_advice

MB = 2**20


def cfg(**thresholds) -> Config:
    c = Config()
    c.redis.url = "redis://:hunter2@cache:6379/0"
    for key, value in thresholds.items():
        setattr(c.thresholds, key, value)
    return c


def run(data: RedisEvidence, c: Config | None = None):
    return rules.evaluate({"redis": Evidence("redis", "ok", 1.0, data=data)}, c or cfg())


def by_code(findings, code):
    return [f for f in findings if f.code == code]


def kpi(data: RedisEvidence):
    return rules.kpis({"redis": Evidence("redis", "ok", 1.0, data=data)}, cfg())["cache_hit_rate"]


def lookups(data: RedisEvidence):
    return rules.kpis({"redis": Evidence("redis", "ok", 1.0, data=data)}, cfg())["cache_lookups"]


@pytest.fixture
def oom(recorded) -> RedisEvidence:
    """20,000 keys in db 0 over maxmemory with noeviction; writes refused during the window."""
    return recorded("redis_oom.json", RedisEvidence).data


@pytest.fixture
def misses(recorded) -> RedisEvidence:
    """One hit for nine misses during the window."""
    return recorded("redis_misses.json", RedisEvidence).data


def memory(data: RedisEvidence, **changes) -> RedisEvidence:
    return replace(data, memory=replace(data.memory, **changes))


def window(data: RedisEvidence, **changes) -> RedisEvidence:
    return replace(data, window=replace(data.window, **changes))


# OOM and memory -------------------------------------------------------------------------------


def test_oom_refusals_are_critical_with_precise_fixes(oom):
    found = run(oom)
    (f,) = by_code(found, "redis.oom_rejections")
    assert f.level is Level.CRITICAL and f.value == oom.window.oom_errors > 0
    assert [a.id for a in f.actions] == ["redis.set_policy", "redis.set_maxmemory", "redis.flush_cache"]
    assert f.actions[0].command == "perfbook fix redis.set_policy --policy allkeys-lru"
    assert "least recently used of the 20,000 keys" in f.actions[0].summary
    assert f.actions[2].command == "perfbook fix redis.flush_cache --db 0"
    assert f.actions[2].manual == 'redis-cli -u "$REDIS_URL" -n 0 FLUSHDB ASYNC'
    (m,) = by_code(found, "redis.memory_high")
    assert m.level is Level.CRITICAL and "every write fails" in m.title


def test_no_oom_in_the_window_is_no_oom_finding(oom):
    assert by_code(run(window(oom, oom_errors=0)), "redis.oom_rejections") == []


def test_never_flush_when_the_cache_db_is_the_queue_db(oom):
    (f,) = by_code(run(replace(oom, queue_db=0)), "redis.oom_rejections")
    assert "redis.flush_cache" not in [a.id for a in f.actions]


def test_memory_high_near_miss_and_warning(oom):
    below = memory(oom, used_pct=89.9, used_bytes=int(oom.memory.maxmemory_bytes * 0.899))
    assert by_code(run(below), "redis.memory_high") == []
    at = memory(oom, used_pct=90.0, used_bytes=int(oom.memory.maxmemory_bytes * 0.9))
    (f,) = by_code(run(at), "redis.memory_high")
    assert f.level is Level.WARNING and "noeviction will refuse writes" in f.title


def test_memory_of_the_host_when_maxmemory_is_zero(oom):
    data = memory(oom, maxmemory_bytes=0, used_pct=91.0, used_pct_of="system memory")
    (f,) = by_code(run(data), "redis.memory_high")
    assert f.level is Level.WARNING and f.unit == "% of system memory"
    assert "redis.set_maxmemory" in [a.id for a in f.actions]
    assert policy_advice(data).policy is None and "maxmemory is 0" in policy_advice(data).reason


# the allkeys-lru advice, made precise ---------------------------------------------------------


def keyspace(*dbs: tuple[int, int, int]) -> list[RedisKeyspace]:
    return [RedisKeyspace(db, keys, expires, 0) for db, keys, expires in dbs]


@pytest.mark.parametrize(
    "policy, dbs, expected, words",
    [
        ("noeviction", [(0, 1000, 0)], "allkeys-lru", "instead of refusing writes"),
        ("noeviction", [(0, 1000, 950), (1, 40, 0)], "volatile-lru", "40 keys without a TTL"),
        ("noeviction", [(0, 1000, 10), (1, 40, 0)], None, "queue keys"),
        ("allkeys-lru", [(0, 1000, 1000), (1, 40, 0)], "volatile-lru", "also evicts the 40 keys"),
        ("allkeys-lru", [(0, 1000, 0)], None, "working set"),
        ("volatile-lru", [(0, 1000, 0)], "allkeys-lru", "evicts nothing"),
        ("volatile-lru", [(0, 1000, 0), (1, 5, 0)], None, "give the cache keys TTLs"),
    ],
)
def test_policy_advice_depends_on_what_the_instance_holds(oom, policy, dbs, expected, words):
    advice = policy_advice(replace(memory(oom, policy=policy), keyspace=keyspace(*dbs)))
    assert advice.policy == expected and words in advice.reason


# hit rate -------------------------------------------------------------------------------------


def test_misses_dominating_the_window(misses):
    (f,) = by_code(run(misses), "redis.hit_rate_low")
    assert f.level is Level.WARNING and f.value == misses.window.hit_rate < 0.2
    assert "misses without evictions" in f.evidence["likely"][0]
    assert kpi(misses) == misses.window.hit_rate


def test_hit_rate_needs_a_hundred_lookups(misses):
    few = window(misses, hits=9, misses=90, lookups=99, hit_rate=round(9 / 99, 4))
    (f,) = by_code(run(few), "redis.hit_rate_low")  # shown with its count, never escalating
    assert f.low_confidence and "99 lookups" in f.title
    # the KPI carries the figure with its count; the KPI table shows it as "few samples", not judged
    assert kpi(few) == round(9 / 99, 4) and lookups(few) == 99
    fewer = window(misses, hits=0, misses=19, lookups=19, hit_rate=0.0)
    assert by_code(run(fewer), "redis.hit_rate_low") == []
    at_limit = window(misses, hits=90, misses=10, lookups=100, hit_rate=0.9)
    assert by_code(run(at_limit), "redis.hit_rate_low") == [] and kpi(at_limit) == 0.9


def test_a_reset_in_the_window_measures_nothing(misses):
    reset = window(
        misses, hits=None, misses=None, lookups=None, hit_rate=None, oom_errors=None, evicted_keys=None
    )
    window_codes = {"redis.hit_rate_low", "redis.oom_rejections", "redis.evictions"}
    assert not [f for f in run(reset) if f.code in window_codes] and kpi(reset) is None


# latency, fragmentation, evictions, big keys, slowlog ------------------------------------------


def test_latency_p99_strictly_over_the_limit(misses):
    lat = misses.latency
    assert by_code(run(replace(misses, latency=replace(lat, p99_ms=10.0))), "redis.latency_high") == []
    (f,) = by_code(run(replace(misses, latency=replace(lat, p99_ms=10.1))), "redis.latency_high")
    assert f.value == 10.1
    few = replace(misses, latency=replace(lat, p99_ms=50.0, samples=rules.MIN_PING_SAMPLES - 1))
    assert by_code(run(few), "redis.latency_high") == []


def test_latency_explained_by_our_own_loop_stall_is_low_confidence(misses):
    lat = replace(misses.latency, p99_ms=60.0, loop_lag_max_ms=55.0)
    (f,) = by_code(run(replace(misses, latency=lat)), "redis.latency_high")
    assert f.low_confidence and "stalled up to 55 ms" in f.title
    (f,) = by_code(run(replace(misses, latency=replace(lat, loop_lag_max_ms=49.0))), "redis.latency_high")
    assert not f.low_confidence


def test_fragmentation_only_on_instances_over_100_mb(misses):
    small = memory(misses, fragmentation_ratio=3.0, used_bytes=50 * MB)
    assert by_code(run(small), "redis.fragmentation_high") == []
    big = memory(misses, fragmentation_ratio=1.6, used_bytes=200 * MB, rss_bytes=320 * MB, used_pct=1.0)
    (f,) = by_code(run(big), "redis.fragmentation_high")
    assert f.level is Level.INFO and f.value == 1.6
    assert by_code(run(memory(big, fragmentation_ratio=1.5)), "redis.fragmentation_high") == []


def test_evictions_in_the_window(misses):
    assert by_code(run(misses), "redis.evictions") == []
    (f,) = by_code(run(window(misses, evicted_keys=42)), "redis.evictions")
    assert f.level is Level.WARNING and f.value == 42


BIG = [
    RedisBigKey("blob:<email>:avatar", "blob:*", 0, 12 * MB, "string", 12 * MB),
    RedisBigKey("queue:jobs", "queue:*", 0, 9 * MB, "list", 90_000),
]


def scanned(data: RedisEvidence, keys: int, read: int, big=(), over: int = 0) -> RedisEvidence:
    scan = RedisKeyScan(0, keys, read, read == keys, 1.2, round(read / keys, 4))
    return replace(
        data,
        big_keys=list(big),
        big_keys_scans=[scan],
        big_keys_sampled=read,
        big_keys_scan_complete=scan.complete,
        big_keys_budget_s=1.6,
        big_keys_per_s=120_000,
        big_keys_over_limit=over,
    )


def test_big_keys_of_a_whole_keyspace_say_so_and_are_never_deleted(misses):
    (f,) = by_code(run(scanned(misses, 150_000, 150_000, BIG, over=1)), "redis.big_keys")
    assert f.level is Level.INFO and [k["key"] for k in f.evidence["keys"]] == ["blob:<email>:avatar"]
    assert f.title.startswith(
        "1 key(s) over 10 MB, all 150,000 keys of db 0 read (1.20 s); biggest blob:<email>:avatar"
    )
    assert f.evidence["coverage"][0]["coverage"] == 1.0 and f.evidence["keys_per_s"] == 120_000
    assert [a.id for a in f.actions] == ["redis.find_writer", "redis.unlink_key"]
    assert all(a.command is None for a in f.actions)  # advice a person follows: perfbook deletes nothing
    assert "grep -rn 'blob:'" in f.actions[0].manual and "UNLINK '<the key you named>'" in f.actions[1].manual
    assert not any("delete_pattern" in (a.command or "") or "--scan" in a.manual for a in f.actions)


def test_big_keys_from_a_sample_are_a_lower_bound_with_their_coverage(misses):
    (f,) = by_code(run(scanned(misses, 150_000, 4_500, BIG, over=1)), "redis.big_keys")
    assert f.title.startswith(
        "at least 1 key(s) over 10 MB in a sample (sampled 3 % of keys of db 0 "
        "(4,500 of 150,000 within the 1.60 s budget)): more may be in the rest"
    )


def test_a_sample_without_big_keys_is_no_verdict(misses):
    (f,) = by_code(run(scanned(misses, 150_000, 1_000)), "redis.big_keys_sampled")
    assert f.level is Level.INFO and f.value == round(1_000 / 150_000, 4)
    assert (
        "sampled 0.67 % of keys of db 0 (1,000 of 150,000" in f.title and "the rest not looked at" in f.title
    )
    assert by_code(run(scanned(misses, 150_000, 150_000)), "redis.big_keys_sampled") == []
    assert by_code(run(scanned(misses, 150_000, 150_000)), "redis.big_keys") == []


def test_slowlog_entries_are_info(oom):
    (f,) = by_code(run(oom), "redis.slowlog")
    assert f.level is Level.INFO and f.evidence["entries"][0]["command"] == "DEBUG POPULATE (+3 args)"


# the probe's status ---------------------------------------------------------------------------


def test_unreachable_is_critical_and_redacted():
    ev = Evidence("redis", "unavailable", 0.01, reason="connection refused at cache:6379")
    (f,) = rules.evaluate({"redis": ev}, cfg())
    assert f.code == "redis.unreachable" and f.level is Level.CRITICAL and "hunter2" not in f.subject


@pytest.mark.parametrize("status", ["skipped", "error"])
def test_skipped_or_error_gives_no_finding(status):
    ev = Evidence("redis", status, 0.0, reason="no [redis] url")
    assert rules.evaluate({"redis": ev}, cfg()) == [] and rules.kpis({"redis": ev}, cfg()) == {
        "cache_hit_rate": None
    }
