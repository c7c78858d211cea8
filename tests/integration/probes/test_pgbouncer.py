"""The pgbouncer probe and rules against a real PgBouncer in front of a private PostgreSQL.

The queue is made for real: two clients hold the pool's two server connections (waiting on an
advisory lock this test holds, bounded by their own SET LOCAL statement_timeout), 18 more queue
behind them. Releasing the lock drains the queue at once; every thread is joined with a timeout.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from perfbook.config import Config
from perfbook.model import Evidence, jsonable
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.pgbouncer import PgbouncerProbe
from perfbook.probes.postgres import PostgresProbe
from perfbook.rules import pgbouncer as rules
from perfbook.rules import postgres as pg_rules

WINDOW_S = 1.0
LOCK = 4242
RECORD_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "evidence"


def record(name: str, ev: Evidence) -> None:
    """PERFBOOK_RECORD=1 refreshes the recorded evidence the rules' unit tests read."""
    if os.environ.get("PERFBOOK_RECORD") == "1":
        (RECORD_DIR / name).write_text(json.dumps(jsonable(ev), indent=1, default=str) + "\n")


def config(bouncer) -> Config:
    cfg = Config()
    cfg.pgbouncer.dsn = bouncer.admin_dsn()
    return cfg


async def probe(cfg: Config) -> Evidence:
    ctx = ProbeContext(config=cfg, window_s=WINDOW_S, deadline=time.monotonic() + WINDOW_S + 2.0)
    return await run_probe(PgbouncerProbe(), ctx, budget_s=WINDOW_S + 2.0)


def pools(bouncer) -> dict[str, dict]:
    with psycopg.connect(bouncer.admin_dsn(), autocommit=True) as admin:
        cur = admin.execute("SHOW POOLS")
        names = [c.name for c in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def wait_until(check, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@contextmanager
def queue(bouncer, pg_dsn: str, holders: int = 2, waiters: int = 18) -> Iterator[None]:
    """``holders`` clients busy in the pool (on an advisory lock we hold), ``waiters`` queued behind them."""
    db = pg_dsn.rsplit("/", 1)[1]
    lock = psycopg.connect(pg_dsn, autocommit=True)
    lock.execute("SELECT pg_advisory_lock(%s)", (LOCK,))

    def client(statement: str) -> None:
        try:
            with psycopg.connect(bouncer.dsn(db), autocommit=True, prepare_threshold=None) as conn:
                conn.execute(f"BEGIN; SET LOCAL statement_timeout = '20s'; {statement}; COMMIT")
        except psycopg.Error:
            pass  # dropped when the fixture stops PgBouncer: the test has asserted by then

    threads = [
        threading.Thread(target=client, args=(f"SELECT pg_advisory_xact_lock({LOCK})",), daemon=True)
        for _ in range(holders)
    ]
    try:
        for t in threads:
            t.start()
        wait_until(lambda: pools(bouncer).get(db, {}).get("sv_active") == holders)
        more = [threading.Thread(target=client, args=("SELECT 1",), daemon=True) for _ in range(waiters)]
        threads += more
        for t in more:
            t.start()
        wait_until(lambda: pools(bouncer).get(db, {}).get("cl_waiting") == waiters)
        yield
    finally:
        lock.close()  # releases the lock: holders finish one after the other, the queue drains
        for t in threads:
            t.join(timeout=25)


async def test_eighteen_clients_queued_on_a_pool_of_two_is_pool_exhausted(pgbouncer, pg_dsn):
    bouncer = pgbouncer(pool_mode="transaction", default_pool_size="2")
    db = pg_dsn.rsplit("/", 1)[1]
    with queue(bouncer, pg_dsn):
        time.sleep(0.5)  # the oldest waiter has waited over the 1 s limit by the window's end
        ev = await probe(config(bouncer))
    assert ev.status == "ok", ev.reason
    record("pgbouncer_exhausted.json", ev)
    (pool,) = [p for p in ev.data.pools if p.database == db]
    assert pool.pool_size == 2 and pool.sv_active == 2 and pool.cl_waiting == 18
    assert (
        pool.cl_waiting_samples == [18] * len(pool.cl_waiting_samples) and len(pool.cl_waiting_samples) == 5
    )
    assert pool.maxwait_max_s >= 1.0 and pool.pool_mode == "transaction"
    assert ev.data.clients_by_state.get("waiting") == 18 and ev.data.longest_client_wait_s >= 1.0
    findings = rules.evaluate({"pgbouncer": ev}, config(bouncer))
    (f,) = [f for f in findings if f.code == "pgbouncer.pool_exhausted"]
    assert f.level.value == "critical" and f.subject == f"{db}/postgres"
    assert (
        f.evidence["cl_waiting"] == 18 and f.evidence["pool_size"] == 2 and f.evidence["maxwait_max_s"] >= 1.0
    )
    assert "18 client(s) wait" in f.title and "pool size 2" in f.title
    fix = f.actions[0]
    assert fix.command == "perfbook fix pgbouncer.raise_pool_size --pool-size 4"
    assert "SET default_pool_size = 4" in fix.manual and "pgbouncer.ini" in fix.manual
    assert not [x for x in findings if x.code == "pgbouncer.pool_saturated"]


async def test_the_postgres_probe_queued_in_the_exhausted_pool_says_so_and_not_that_postgres_is_down(
    pgbouncer, pg_dsn
):
    bouncer = pgbouncer(pool_mode="transaction", default_pool_size="2")
    cfg = Config()
    cfg.postgres.dsn = bouncer.dsn(pg_dsn.rsplit("/", 1)[1])
    with queue(bouncer, pg_dsn, waiters=3):
        ctx = ProbeContext(config=cfg, window_s=0.5, deadline=time.monotonic() + 3.0)
        started = time.monotonic()
        ev = await run_probe(PostgresProbe(), ctx, budget_s=3.0)
        took_s = time.monotonic() - started
    assert ev.status == "unavailable" and ev.reason.startswith("queued in PgBouncer"), ev.reason
    # within its budget: the queued read is abandoned, not awaited
    assert "PgBouncer 1." in ev.reason and took_s < 3.0
    (f,) = pg_rules.evaluate({"postgres": ev}, cfg)
    assert f.code == "pg.unreachable" and f.title.startswith("PostgreSQL not reached, queued in PgBouncer")
    assert "SHOW POOLS" in f.actions[0].manual


async def test_a_healthy_pool_gives_none_of_the_pool_findings_and_window_figures_only(pgbouncer, pg_dsn):
    bouncer = pgbouncer(pool_mode="transaction", default_pool_size="5")
    db = pg_dsn.rsplit("/", 1)[1]
    with psycopg.connect(bouncer.dsn(db), autocommit=True, prepare_threshold=None) as conn:
        for _ in range(300):  # lifetime traffic before the window: not a window figure
            conn.execute("SELECT 1")
        ev = await probe(config(bouncer))
    assert ev.status == "ok", ev.reason
    record("pgbouncer_healthy.json", ev)
    assert ev.data.version.startswith("PgBouncer 1.") and ev.data.config["pool_mode"] == "transaction"
    (stats,) = [s for s in ev.data.stats if s.database == db]
    assert stats.xacts_window < 50  # the 300 before the window are not in it
    (pool,) = [p for p in ev.data.pools if p.database == db]
    assert pool.cl_waiting == 0 and pool.pool_size == 5
    assert rules.evaluate({"pgbouncer": ev}, config(bouncer)) == []


async def test_an_admin_console_that_refuses_is_pgbouncer_unreachable(pgbouncer, closed_port):
    cfg = Config()
    cfg.pgbouncer.dsn = f"postgresql://postgres@127.0.0.1:{closed_port}/pgbouncer"
    ev = await probe(cfg)
    assert ev.status == "unavailable" and "connection refused" in ev.reason
    (f,) = rules.evaluate({"pgbouncer": ev}, cfg)
    assert f.code == "pgbouncer.unreachable" and "admin console" in f.title


async def test_unconfigured_is_skipped():
    ev = await probe(Config())
    assert ev.status == "skipped" and ev.reason == "no [pgbouncer] dsn"


def test_triage_through_pgbouncer_names_the_exhausted_pool_and_the_queued_probe(perfbook, pgbouncer, pg_dsn):
    bouncer = pgbouncer(pool_mode="transaction", default_pool_size="2")
    env = {
        "PERFBOOK_POSTGRES_DSN": bouncer.dsn(pg_dsn.rsplit("/", 1)[1]),
        "PERFBOOK_PGBOUNCER_DSN": bouncer.admin_dsn(),
        "PERFBOOK_CONFIG": None,
    }
    with queue(bouncer, pg_dsn):
        time.sleep(0.5)
        res = perfbook("triage", "--only", "postgres,pgbouncer", "--window", "1s", "--json", env=env)
    assert res.exit_code == 3, res.stderr  # a critical finding fails the default cut
    doc = res.json
    assert doc["probes"]["pgbouncer"]["status"] == "ok"
    assert doc["probes"]["postgres"]["reason"].startswith("queued in PgBouncer")
    by_code = {f["code"]: f for f in doc["findings"]}
    # perfbook's own queued probe left out
    assert by_code["pgbouncer.pool_exhausted"]["evidence"]["cl_waiting"] == 18
    assert by_code["pgbouncer.pool_exhausted"]["evidence"]["own_waiting"] == 1
    assert by_code["pg.unreachable"]["title"].startswith("PostgreSQL not reached, queued in PgBouncer")
    assert doc["causes"][0]["summary"].startswith("Requests queue in PgBouncer")
    assert "pgbouncer.raise_pool_size" in doc["causes"][0]["action"]["command"]


def test_raising_the_pool_drains_the_queue_and_the_fix_verifies_it(perfbook, pgbouncer, pg_dsn, tmp_path):
    bouncer = pgbouncer(pool_mode="transaction", default_pool_size="2")
    cfg = tmp_path / "perfbook.toml"
    cfg.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path}/perfbook.db"\n[http]\nbase_url = ""\n'
        f'[pgbouncer]\ndsn = "{bouncer.admin_dsn()}"\n'
    )
    with queue(bouncer, pg_dsn):
        time.sleep(0.5)
        res = perfbook(
            "fix",
            "pgbouncer.raise_pool_size",
            "--pool-size",
            "4",
            "--apply",
            "--yes",
            "--window",
            "1s",
            "--json",
            "--config",
            str(cfg),
        )
        db = pg_dsn.rsplit("/", 1)[1]
        after = pools(bouncer)[db]
    assert res.exit_code == 0, res.stderr
    doc = res.json
    assert doc["outcome"]["status"] == "done"
    assert after["cl_waiting"] == 0 and after["sv_active"] == 2  # the holders stay; nobody waits behind them
    verify = doc["verify"]
    assert verify["probes"] == ["pgbouncer"] and verify["gone"] is True
    (moved,) = [f for f in verify["findings"] if f["finding"].startswith("pgbouncer.pool_exhausted:")]
    assert moved["finding"] == f"pgbouncer.pool_exhausted:{db}/postgres"
    assert moved["before"] >= 1.0 and moved["after"] == "absent"  # measured before and after, not assumed


async def test_a_dsn_that_is_not_the_admin_console_says_so(pg_dsn):
    cfg = Config()
    cfg.pgbouncer.dsn = pg_dsn  # PostgreSQL itself, not PgBouncer's `pgbouncer` database
    ev = await probe(cfg)
    assert ev.status == "unavailable" and "answers no SHOW command" in ev.reason
    (f,) = rules.evaluate({"pgbouncer": ev}, cfg)
    assert f.code == "pgbouncer.unreachable" and "unrecognized configuration parameter" in f.title
