"""The redis probe and rules against a real private Redis, each condition made for real (0.5 s window).

Traffic during the window comes from a concurrent asyncio task with its own client, bounded by
the window; everything goes to the private server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from perfbook import services
from perfbook.config import Config
from perfbook.model import Evidence, Level, jsonable
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.redis import RedisProbe
from perfbook.rules import redis as rules

WINDOW_S = 0.5
RECORD_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "evidence"


def config(url: str, **thresholds) -> Config:
    cfg = Config()
    cfg.redis.url = url
    for key, value in thresholds.items():
        setattr(cfg.thresholds, key, value)
    return cfg


async def probe(cfg: Config, window_s: float = WINDOW_S) -> Evidence:
    ctx = ProbeContext(config=cfg, window_s=window_s, deadline=time.monotonic() + window_s + 1.0)
    return await run_probe(RedisProbe(), ctx, budget_s=window_s + 1.0)


async def probe_with_traffic(cfg: Config, command) -> Evidence:
    """Run the probe while ``command(client, i)`` repeats every ~2 ms; stopped when the probe returns.

    Stopped by a flag, not by cancelling: a cancelled redis-py call can swallow the cancellation.
    """
    client = aioredis.Redis.from_url(cfg.redis.url)
    stop = asyncio.Event()

    async def loop() -> None:
        i = 0
        while not stop.is_set():
            await command(client, i)
            i += 1
            await asyncio.sleep(0.002)

    task = asyncio.create_task(loop())
    try:
        return await probe(cfg)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await client.aclose()


def codes(findings) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f.code, []).append(f)
    return out


def record(name: str, ev: Evidence) -> None:
    if os.environ.get("PERFBOOK_RECORD") == "1":
        (RECORD_DIR / name).write_text(json.dumps(jsonable(ev), indent=1, default=str) + "\n")


async def test_noeviction_at_maxmemory_refusing_writes(redis_url):
    sync = redis.Redis.from_url(redis_url)
    sync.execute_command("DEBUG", "POPULATE", 20000, "cache", 100)
    sync.config_set("maxmemory", int(sync.info("memory")["used_memory"] * 0.9))

    async def writer(client, i):
        with contextlib.suppress(redis.exceptions.OutOfMemoryError):
            await client.set("cache:new", "v" * 100)

    ev = await probe_with_traffic(config(redis_url), writer)
    assert ev.status == "ok", ev.reason
    assert ev.data.window.oom_errors > 0
    found = codes(rules.evaluate({"redis": ev}, config(redis_url)))
    (oom,) = found["redis.oom_rejections"]
    assert oom.level is Level.CRITICAL and oom.value == ev.data.window.oom_errors
    (mem,) = found["redis.memory_high"]
    assert mem.level is Level.CRITICAL and "every write fails" in mem.title
    commands = [a.command for a in oom.actions]
    assert "perfbook fix redis.set_policy --policy allkeys-lru" in commands
    assert "perfbook fix redis.flush_cache --db 0" in commands
    assert any(c.startswith("perfbook fix redis.set_maxmemory --maxmemory ") for c in commands)
    record("redis_oom.json", ev)


async def test_misses_dominating_the_window(redis_url):
    sync = redis.Redis.from_url(redis_url)
    sync.set("user:1", "x")

    async def reader(client, i):  # 1 hit and 9 misses per call
        await client.mget("user:1", *(f"user:missing:{i}:{j}" for j in range(9)))

    ev = await probe_with_traffic(config(redis_url), reader)
    w = ev.data.window
    assert w.lookups >= 100 and w.hit_rate < 0.2
    (f,) = codes(rules.evaluate({"redis": ev}, config(redis_url)))["redis.hit_rate_low"]
    assert f.level is Level.WARNING and f.evidence["misses"] == w.misses
    assert rules.kpis({"redis": ev}, config(redis_url)) == {
        "cache_hit_rate": w.hit_rate,
        "cache_lookups": w.lookups,
    }
    record("redis_misses.json", ev)


async def test_healthy_redis_has_no_warning_and_own_commands_are_no_lookups(redis_url):
    sync = redis.Redis.from_url(redis_url)
    for i in range(300):
        sync.set(f"user:{i}", "x" * 50, ex=3600)
    # on this shared 2-core box a PING can wait a scheduler tick: the latency rule has its own test
    cfg = config(redis_url, redis_latency_ms=250)
    ev = await probe(cfg)
    assert ev.status == "ok" and ev.duration_s <= WINDOW_S + 1.0
    assert ev.data.window.lookups == 0  # SCAN + MEMORY USAGE of 300 keys counted no hit
    assert ev.data.big_keys_sampled == 300 and ev.data.big_keys_scan_complete
    assert ev.data.latency.samples >= 20 and ev.data.latency.min_ms <= ev.data.latency.p99_ms
    assert [f for f in rules.evaluate({"redis": ev}, cfg) if f.level is not Level.INFO] == []
    assert rules.kpis({"redis": ev}, cfg) == {"cache_hit_rate": None}


async def test_big_keys_with_type_and_length(redis_url, redis_server):
    sync = redis.Redis.from_url(redis_url)
    sync.set("blob:ann@example.com:avatar", "x" * 300_000)
    sync.rpush("queue:jobs", *(f"job-{i:06d}" for i in range(20_000)))
    sync.set("small", "x")
    backlog = redis.Redis.from_url(redis_server.url(1))  # the WebSocket queue's database
    backlog.rpush("ws:messages", *(f"message-{i:06d}" for i in range(30_000)))
    cfg = config(redis_url, redis_big_key_mb=0.1)
    ev = await probe(cfg)
    (f,) = codes(rules.evaluate({"redis": ev}, cfg))["redis.big_keys"]
    keys = {k["key"]: k for k in f.evidence["keys"]}
    assert (
        keys["blob:<email>:avatar"]["type"] == "string" and keys["blob:<email>:avatar"]["length"] == 300_000
    )
    assert keys["queue:jobs"]["type"] == "list" and keys["queue:jobs"]["length"] == 20_000
    # db 1 was sampled first: the db 0 keys' types and lengths prove the connection came back to db 0
    assert keys["ws:messages"]["db"] == 1 and keys["ws:messages"]["length"] == 30_000
    assert "small" not in keys and "ann@example.com" not in json.dumps(jsonable(ev))
    assert [(s.db, s.keys, s.scanned, s.complete) for s in ev.data.big_keys_scans] == [
        (0, 3, 3, True),
        (1, 1, 1, True),
    ]


def populate_with_a_20_mb_string(url: str) -> redis.Redis:
    """150,000 small keys and one 20 MB string among them (DEBUG POPULATE: one command, well under a second)."""
    sync = redis.Redis.from_url(url)
    sync.execute_command("DEBUG", "POPULATE", 150_000 - 1, "user", 20)
    sync.set("report:2026:all-orders", b"x" * (20 * 2**20))
    assert sync.dbsize() == 150_000
    return sync


async def test_a_20_mb_string_among_150000_keys_is_found_in_a_whole_keyspace_scan(redis_url):
    populate_with_a_20_mb_string(redis_url)
    cfg = config(redis_url)
    cfg.redis.queue_db = None
    ev = await probe(cfg, window_s=4.0)  # a scan budget of 3.2 s: ~1 s at the speed this machine reaches
    (scan,) = ev.data.big_keys_scans
    assert scan.complete and scan.keys == 150_000 and scan.scanned == 150_000 and scan.coverage == 1.0
    assert ev.data.big_keys_per_s > 10_000
    found = codes(rules.evaluate({"redis": ev}, cfg))
    (f,) = found["redis.big_keys"]
    assert (
        f.evidence["keys"][0]["key"] == "report:2026:all-orders"
        and f.evidence["keys"][0]["length"] == 20 * 2**20
    )
    assert f.title.startswith("1 key(s) over 10 MB, all 150,000 keys of db 0 read")
    assert [a.id for a in f.actions] == [
        "redis.find_writer",
        "redis.unlink_key",
    ] and "redis.big_keys_sampled" not in found


async def test_a_scan_budget_too_small_for_the_keyspace_says_what_it_sampled(redis_url):
    populate_with_a_20_mb_string(redis_url)
    cfg = config(redis_url)
    cfg.redis.queue_db = None
    cfg.redis.big_keys_budget_s = 0.02
    ev = await probe(cfg, window_s=1.0)
    (scan,) = ev.data.big_keys_scans
    assert not scan.complete and 0 < scan.scanned < 150_000 and scan.keys == 150_000
    assert ev.status == "ok"  # every other figure is whole
    findings = codes(rules.evaluate({"redis": ev}, cfg))
    # the 20 MB key may be in the sample
    (f,) = findings.get("redis.big_keys") or findings["redis.big_keys_sampled"]
    share = f"{scan.coverage * 100:.2g}" if scan.coverage < 0.01 else str(int(scan.coverage * 100))
    assert (
        f"sampled {share} % of keys of db 0 ({scan.scanned:,} of 150,000 within the 20.0 ms budget)"
        in f.title
    )
    assert not f.title.startswith(("1 key", "none")) and f.evidence["scan_complete"] is False


async def test_evictions_in_the_window_with_allkeys_lru(redis_url):
    sync = redis.Redis.from_url(redis_url)
    sync.execute_command("DEBUG", "POPULATE", 20000, "cache", 100)
    sync.config_set("maxmemory-policy", "allkeys-lru")
    sync.config_set("maxmemory", int(sync.info("memory")["used_memory"] * 1.01))

    async def writer(client, i):
        await client.set(f"fresh:{i}", "v" * 2000)

    ev = await probe_with_traffic(config(redis_url), writer)
    found = codes(rules.evaluate({"redis": ev}, config(redis_url)))
    (f,) = found["redis.evictions"]
    assert f.value > 0 and ev.data.window.oom_errors == 0
    assert "redis.oom_rejections" not in found


async def test_a_server_stall_is_latency_but_our_own_stall_is_low_confidence(redis_url):
    async def server_stall(client, i):  # Redis itself busy for 60 ms every ~100 ms
        if i % 20 == 0:
            await client.execute_command("DEBUG", "SLEEP", 0.06)

    ev = await probe_with_traffic(config(redis_url), server_stall)
    (f,) = codes(rules.evaluate({"redis": ev}, config(redis_url)))["redis.latency_high"]
    assert f.value >= 40 and not f.low_confidence

    async def own_stall(client, i):  # perfbook's event loop blocked by other work, Redis idle
        if i % 20 == 0:
            time.sleep(0.06)

    ev = await probe_with_traffic(config(redis_url), own_stall)
    found = codes(rules.evaluate({"redis": ev}, config(redis_url))).get("redis.latency_high", [])
    assert ev.data.latency.loop_lag_max_ms >= 40
    assert all(f.low_confidence and "own event loop" in f.title for f in found)


async def test_privacy_slowlog_keys_and_values(redis_url):
    secret = "hunter2-Sup3rSecret"
    sync = redis.Redis.from_url(redis_url)
    sync.config_set("slowlog-log-slower-than", 0)
    try:
        sync.slowlog_reset()
        sync.set("session:ann.lee@example.com", secret)
        ev = await probe(config(redis_url))
    finally:
        sync.config_set("slowlog-log-slower-than", 10000)
        sync.slowlog_reset()
    findings = rules.evaluate({"redis": ev}, config(redis_url))
    (f,) = codes(findings)["redis.slowlog"]
    assert any(e["command"] == "SET session:<email> (+1 args)" for e in f.evidence["entries"])
    assert all(e["client_name"] != "perfbook" for e in f.evidence["entries"])
    text = json.dumps(jsonable([ev, findings]), default=str)
    assert secret not in text and "ann.lee" not in text


async def test_a_restricted_acl_user_gets_what_it_may(redis_url, redis_server):
    sync = redis.Redis.from_url(redis_url)
    sync.execute_command("ACL", "SETUSER", "mon", "on", ">mon-pw", "+info", "+ping", "+slowlog", "~*")
    sync.execute_command("ACL", "SETUSER", "nobody", "on", ">nobody-pw", "+ping")
    try:
        url = f"redis://mon:mon-pw@127.0.0.1:{redis_server.port}/0"
        ev = await probe(config(url))
        assert ev.status == "partial" and "SCAN refused" in ev.reason and ev.data.latency.samples == 20
        assert any("CLIENT SETNAME refused" in n for n in ev.data.notes)
        url = f"redis://nobody:nobody-pw@127.0.0.1:{redis_server.port}/0"
        ev = await probe(config(url))
        assert (
            ev.status == "unavailable"
            and ev.reason.startswith("permission denied: ")
            and "nobody-pw" not in ev.reason
        )
    finally:
        sync.execute_command("ACL", "DELUSER", "mon", "nobody")


async def test_unreachable_port_is_one_line(closed_port):
    url = f"redis://:pw@127.0.0.1:{closed_port}/0"
    ev = await probe(config(url))
    assert ev.status == "unavailable" and ev.reason == f"connection refused at 127.0.0.1:{closed_port}"
    (f,) = rules.evaluate({"redis": ev}, config(url))
    assert f.code == "redis.unreachable" and f.level is Level.CRITICAL and ":pw@" not in f.subject


async def test_wrong_password_is_one_line():
    try:
        server = services.start_redis(extra_args=["--requirepass", "right-password"])
    except services.ServiceUnavailable as err:
        pytest.skip(str(err))
    try:
        url = f"redis://:wrong-password@127.0.0.1:{server.port}/0"
        ev = await probe(config(url))
    finally:
        server.stop()
    assert ev.status == "unavailable" and "\n" not in ev.reason
    assert ev.reason == (
        "authentication failed: invalid username-password pair or user is disabled"
        f" at 127.0.0.1:{server.port}"
    )
    assert rules.evaluate({"redis": ev}, config(url))[0].code == "redis.unreachable"


async def test_no_url_is_skipped():
    ev = await probe(config(""))
    assert ev.status == "skipped" and ev.reason == "no [redis] url"
    assert rules.evaluate({"redis": ev}, config("")) == []
