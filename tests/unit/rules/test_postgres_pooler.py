"""PostgreSQL rules when PgBouncer sits in the path (recorded through a real PgBouncer in transaction
pooling: tests/fixtures/evidence/postgres_pgbouncer.json, from tests/integration/probes/test_postgres_pooler.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config
from perfbook.evidence.postgres import POOLER_QUEUED, POOLER_REFUSED, PgPooler, PostgresEvidence
from perfbook.model import Evidence, Level
from perfbook.probes.postgres_build import build_pooler
from perfbook.rules import postgres as rules


def cfg() -> Config:
    c = Config()
    c.postgres.dsn = "postgresql://app:s3cret@pool:6432/app"
    return c


@pytest.fixture
def through(recorded) -> Evidence:
    return recorded("postgres_pgbouncer.json", PostgresEvidence)


def notes(ev: Evidence):
    return [f for f in rules.evaluate({"postgres": ev}, cfg()) if f.code == "pg.pooler_in_path"]


def test_the_pooler_is_an_info_note_naming_it_its_mode_and_the_settings_applied(through):
    (f,) = notes(through)
    assert f.level is Level.INFO and f.evidence["pooler"]["kind"] == "pgbouncer"
    assert "sits between perfbook and PostgreSQL in transaction pooling" in f.title
    assert "applied per transaction (SET LOCAL)" in f.title and f.evidence["settings_not_applied"] == []
    assert f.evidence["own_settings"]["transaction_read_only"] == "on"


def test_settings_the_server_did_not_take_are_named(through):
    data = replace(through.data, settings_not_applied=["lock_timeout (asked 100ms, the server has 0)"])
    (f,) = notes(replace(through, data=data))
    assert "not applied: lock_timeout (asked 100ms, the server has 0)" in f.title


def test_a_port_mapping_alone_is_no_pooler_note(through):
    proxy = PgPooler(kind="proxy", how="PostgreSQL listens on port 5432, perfbook connected to 15432")
    assert notes(replace(through, data=replace(through.data, pooler=proxy))) == []
    assert notes(replace(through, data=replace(through.data, pooler=None))) == []


def test_pgbouncer_refusing_names_pgbouncer_and_what_to_change():
    reason = f"{POOLER_REFUSED} at pool:6432: unsupported startup parameter: options"
    (f,) = rules.evaluate({"postgres": Evidence("postgres", "unavailable", 0.01, reason=reason)}, cfg())
    assert f.code == "pg.unreachable" and "PostgreSQL unreachable" not in f.title and "PgBouncer" in f.title
    assert "ignore_startup_parameters" in f.actions[0].summary and "s3cret" not in f.subject


def test_queued_in_pgbouncer_is_not_called_postgresql_unreachable():
    reason = f"{POOLER_QUEUED}: connected, but no answer to the first query within 3.2 s"
    (f,) = rules.evaluate({"postgres": Evidence("postgres", "unavailable", 3.5, reason=reason)}, cfg())
    assert (
        f.title.startswith("PostgreSQL not reached, queued in PgBouncer")
        and "SHOW POOLS" in f.actions[0].manual
    )


def test_postgresql_s_own_refusal_stays_postgresql_unreachable():
    reason = 'database "app" does not exist at db:5432'
    (f,) = rules.evaluate({"postgres": Evidence("postgres", "unavailable", 0.01, reason=reason)}, cfg())
    assert f.title == f"PostgreSQL unreachable: {reason}"


@pytest.mark.parametrize(
    ("pids", "admin", "kind"),
    [
        ({1, 2}, None, "pooler"),
        ({1}, ("refused", "not allowed"), "pgbouncer"),
        ({1}, ("absent", 'database "pgbouncer" does not exist'), "proxy"),
    ],
)
def test_how_the_pooler_is_told_apart(pids, admin, kind):
    assert build_pooler(6432, 5432, pids, admin).kind == kind


def test_the_note_offers_the_pgbouncer_probe_only_while_it_is_not_configured(through):
    (f,) = notes(through)
    assert f.actions[0].id == "pgbouncer.probe"
    c = cfg()
    c.pgbouncer.dsn = "postgresql://stats@pool:6432/pgbouncer"
    (g,) = [x for x in rules.evaluate({"postgres": through}, c) if x.code == "pg.pooler_in_path"]
    assert g.actions == ()
