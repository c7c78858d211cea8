"""How fast the redis probe's big-key scan (pipelined SCAN + MEMORY USAGE) reads a keyspace.

Starts a private Redis on 127.0.0.1 with N small keys (default 1,000,000, DEBUG POPULATE) and one
20 MB string among them, runs the redis probe with a window long enough for the whole scan, and
prints keys per second, the coverage and whether the 20 MB key was found. The server is removed
at the end.

    .venv/bin/python bench/redis_bigkeys.py [--keys 1000000] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import redis

from perfbook import services
from perfbook.config import Config
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.redis import RedisProbe
from perfbook.rules import redis as redis_rules


async def scan_once(url: str, window_s: float) -> None:
    cfg = Config()
    cfg.redis.url, cfg.redis.queue_db = url, None
    cfg.redis.big_keys_budget_s = window_s * 0.95
    ctx = ProbeContext(config=cfg, window_s=window_s, deadline=time.monotonic() + window_s + 2)
    ev = await run_probe(RedisProbe(), ctx, budget_s=window_s + 2)
    data = ev.data
    (scan,) = data.big_keys_scans
    findings = [f for f in redis_rules.evaluate({"redis": ev}, cfg) if f.code.startswith("redis.big_keys")]
    print(
        f"keys: {scan.keys:,}  scanned: {scan.scanned:,} in {scan.duration_s:.2f} s  complete: {scan.complete}"
    )
    print(
        f"big-key scan: {data.big_keys_per_s:,.0f} keys/s (pipelined SCAN COUNT 500 + MEMORY USAGE, one connection)"
    )
    for f in findings:
        print(f"{f.code}: {f.title}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    server = services.start_redis(extra_args=["--enable-debug-command", "local"])
    try:
        client = redis.Redis.from_url(server.url(0))
        client.execute_command("DEBUG", "POPULATE", args.keys - 1, "user", 20)
        client.set("report:2026:all-orders", b"x" * (20 * 2**20))
        asyncio.run(scan_once(server.url(0), args.window))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
