"""The postgres probe through a real PgBouncer (Debian's, as shipped), in session and transaction pooling.

PgBouncer refuses the ``options`` startup parameter unless ``ignore_startup_parameters`` names it;
the probe sends none, sets its timeouts per transaction, and says a pooler is in the path.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import psycopg
import pytest

from perfbook.config import Config
from perfbook.model import Evidence, jsonable
from perfbook.probes.base import ProbeContext, run_probe
from perfbook.probes.postgres import PostgresProbe
from perfbook.rules import postgres as rules

WINDOW_S = 0.5
RECORD_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "evidence"


async def probe(cfg: Config) -> Evidence:
    ctx = ProbeContext(config=cfg, window_s=WINDOW_S, deadline=time.monotonic() + WINDOW_S + 1.5)
    return await run_probe(PostgresProbe(), ctx, budget_s=WINDOW_S + 1.5)


def through(bouncer, dsn: str) -> Config:
    cfg = Config()
    cfg.postgres.dsn = bouncer.dsn(dsn.rsplit("/", 1)[1])
    return cfg


@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
async def test_the_probe_reads_real_evidence_through_pgbouncer_and_says_it_is_there(
    pgbouncer, pg_dsn, pool_mode
):
    bouncer = pgbouncer(pool_mode=pool_mode)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, email text)")
        conn.execute("INSERT INTO orders (email) SELECT 'u' || g FROM generate_series(1, 500) g")
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(bouncer.dsn("postgres"), options="-c statement_timeout=1000").close()  # as shipped
    cfg = through(bouncer, pg_dsn)
    ev = await probe(cfg)
    assert ev.status == "ok", ev.reason
    if os.environ.get("PERFBOOK_RECORD") == "1" and pool_mode == "transaction":  # for tests/unit/rules
        (RECORD_DIR / "postgres_pgbouncer.json").write_text(
            json.dumps(jsonable(ev), indent=1, default=str) + "\n"
        )
    data = ev.data
    assert "public.orders" in data.top_tables_by_size and data.connections is not None
    assert data.own_settings["transaction_read_only"] == "on" and data.own_settings["lock_timeout"] == "100ms"
    assert data.own_settings["statement_timeout"] not in ("0", None) and data.settings_not_applied == []
    assert (
        data.pooler is not None
        and data.pooler.kind == "pgbouncer"
        and data.pooler.version.startswith("PgBouncer 1.")
    )
    assert data.pooler.connected_port == bouncer.port and data.pooler.server_port != bouncer.port
    assert data.pooler.pool_mode == pool_mode  # read from SHOW POOLS: the DSN's user is an admin here
    (note,) = [f for f in rules.evaluate({"postgres": ev}, cfg) if f.code == "pg.pooler_in_path"]
    assert re.search(
        rf"PgBouncer 1\.\d+\.\d+ sits between perfbook and PostgreSQL in {pool_mode} pooling", note.title
    )
    assert "applied per transaction" in note.title
    assert not [f for f in rules.evaluate({"postgres": ev}, cfg) if f.code == "pg.unreachable"]


async def test_a_direct_connection_names_no_pooler(pg_dsn):
    cfg = Config()
    cfg.postgres.dsn = pg_dsn
    ev = await probe(cfg)
    assert ev.status == "ok", ev.reason
    assert ev.data.pooler is None and ev.data.settings_not_applied == []
    assert not [f for f in rules.evaluate({"postgres": ev}, cfg) if f.code == "pg.pooler_in_path"]


async def test_a_connection_pgbouncer_refuses_is_named_as_pgbouncer_s_answer(pgbouncer, pg_dsn):
    bouncer = pgbouncer()
    cfg = through(bouncer, pg_dsn)
    cfg.postgres.dsn += "?options=-c%20work_mem%3D8MB"  # the user's own startup option
    ev = await probe(cfg)
    assert ev.status == "unavailable"
    (f,) = rules.evaluate({"postgres": ev}, cfg)
    assert f.code == "pg.unreachable"
    assert (
        f.title.startswith("PgBouncer refused the connection")
        and "unsupported startup parameter: options" in f.title
    )
    assert "ignore_startup_parameters" in f.actions[0].summary


async def test_a_port_mapping_in_front_of_postgresql_is_no_pgbouncer(pg_dsn, pg_server):
    """A TCP relay (what a container port mapping is) makes the ports differ; PostgreSQL behind it
    answers for no `pgbouncer` database, so no pooler is claimed."""
    import asyncio

    from perfbook.services import free_port

    port = free_port()

    async def relay(reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", pg_server.port)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        cfg = Config()
        cfg.postgres.dsn = pg_dsn.replace(f":{pg_server.port}/", f":{port}/")
        ev = await probe(cfg)
    finally:
        server.close()
    assert ev.status == "ok", ev.reason
    assert ev.data.pooler is not None and ev.data.pooler.kind == "proxy" and ev.data.pooler.version is None
    assert not [f for f in rules.evaluate({"postgres": ev}, cfg) if f.code == "pg.pooler_in_path"]
