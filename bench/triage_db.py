"""Both database probes together against a big private stack: do they finish within window + 1 s?

Starts a private PostgreSQL with N tables (default 500, each with a primary key, a second index
and some rows, and a few hundred distinct statements in pg_stat_statements) and a private Redis
with M keys (default 1,000,000 via DEBUG POPULATE), runs the postgres and redis probes
concurrently R times, and prints each run's figures. Everything runs on 127.0.0.1 and is removed
at the end.

    .venv/bin/python bench/triage_db.py [--window 2] [--tables 500] [--keys 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import psycopg
import redis

from perfbook import services
from perfbook.config import Config
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.postgres import PostgresProbe
from perfbook.probes.redis import RedisProbe
from perfbook.rules import postgres as pg_rules
from perfbook.rules import redis as redis_rules

SETUP_SQL = """
DO $$
BEGIN
  FOR i IN 1..%(tables)s LOOP
    EXECUTE format('CREATE TABLE t%%s (id int PRIMARY KEY, k int, body text)', i);
    EXECUTE format('CREATE INDEX ON t%%s (k)', i);
    EXECUTE format('INSERT INTO t%%s SELECT g, g %%%% 97, md5(g::text) FROM generate_series(1, 200) g', i);
  END LOOP;
END $$;
"""


def build_postgres(tables: int) -> tuple[services.PostgresServer, str]:
    server = services.start_postgres()
    dsn = server.dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute(SETUP_SQL % {"tables": tables})
        for i in range(1, tables + 1):  # one distinct statement per table
            conn.execute(f"SELECT count(*) FROM t{i} WHERE k = %s", (i % 97,))
        conn.execute("ANALYZE")
    return server, dsn


def build_redis(keys: int) -> services.RedisServer:
    server = services.start_redis(extra_args=["--enable-debug-command", "local"])
    client = redis.Redis.from_url(server.url())
    client.execute_command("DEBUG", "POPULATE", keys, "key", 64)
    client.close()
    return server


async def run_once(cfg: Config, window_s: float) -> dict:
    budget_s = window_s + 1.0
    ctx = ProbeContext(config=cfg, window_s=window_s, deadline=time.monotonic() + budget_s)
    started = time.monotonic()
    pg_ev, rd_ev = await asyncio.gather(
        run_probe(PostgresProbe(), ctx, budget_s), run_probe(RedisProbe(), ctx, budget_s)
    )
    wall_s = time.monotonic() - started
    evidence = {"postgres": pg_ev, "redis": rd_ev}
    findings = pg_rules.evaluate(evidence, cfg) + redis_rules.evaluate(evidence, cfg)
    pg, rd = pg_ev.data, rd_ev.data
    return {
        "wall_s": wall_s,
        "budget_s": budget_s,
        "pg": (pg_ev.status, pg_ev.duration_s),
        "redis": (rd_ev.status, rd_ev.duration_s),
        "tables_judged": len(pg.tables) if pg else None,
        "lifetime_statements": len(pg.statements.lifetime_top) if pg else None,
        "redis_keys": sum(k.keys for k in rd.keyspace) if rd else None,
        "sampled": rd.big_keys_sampled if rd else None,
        "ping_p99_ms": rd.latency.p99_ms if rd else None,
        "findings": sorted({f.code for f in findings}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    t0 = time.monotonic()
    pg_server, dsn = build_postgres(args.tables)
    rd_server = None
    try:
        rd_server = build_redis(args.keys)
        print(f"setup: {args.tables} tables, {args.keys:,} keys in {time.monotonic() - t0:.1f} s")
        cfg = Config()
        cfg.postgres.dsn, cfg.redis.url = dsn, rd_server.url()
        worst = 0.0
        for i in range(args.runs):
            r = asyncio.run(run_once(cfg, args.window))
            worst = max(worst, r["wall_s"])
            ok = "within" if r["wall_s"] <= r["budget_s"] else "OVER"
            print(
                f"run {i + 1}: both probes {r['wall_s']:.2f} s ({ok} window + 1 s = {r['budget_s']:.1f} s); "
                f"postgres {r['pg'][0]} {r['pg'][1]:.2f} s, {r['tables_judged']} tables judged; "
                f"redis {r['redis'][0]} {r['redis'][1]:.2f} s, {r['redis_keys']:,} keys, {r['sampled']} sampled, "
                f"PING p99 {r['ping_p99_ms']} ms; findings {r['findings']}"
            )
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"worst wall {worst:.2f} s for a {args.window:g} s window; peak RSS of this process {rss_mb:.0f} MB"
        )
    finally:
        if rd_server:
            rd_server.stop()
        pg_server.stop()


if __name__ == "__main__":
    main()
