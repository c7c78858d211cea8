"""PgBouncer rules on recorded evidence (tests/fixtures/evidence/pgbouncer_*.json).

The recordings come from tests/integration/probes/test_pgbouncer.py (PERFBOOK_RECORD=1): 18
clients queued on a pool of 2, and a healthy pool of 5.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from perfbook.config import Config
from perfbook.evidence.pgbouncer import PgbouncerEvidence
from perfbook.model import Evidence, Level
from perfbook.rules import pgbouncer as rules


def cfg(**thresholds) -> Config:
    c = Config()
    c.pgbouncer.dsn = "postgresql://stats:s3cret@pool:6432/pgbouncer"
    for key, value in thresholds.items():
        setattr(c.thresholds, key, value)
    return c


def run(ev: Evidence, c: Config | None = None):
    return rules.evaluate({"pgbouncer": ev}, c or cfg())


def with_pool(ev: Evidence, **changes) -> Evidence:
    data: PgbouncerEvidence = ev.data
    pools = [replace(data.pools[0], **changes), *data.pools[1:]]
    return replace(ev, data=replace(data, pools=pools))


@pytest.fixture
def exhausted(recorded) -> Evidence:
    return recorded("pgbouncer_exhausted.json", PgbouncerEvidence)


def test_clients_queued_through_the_window_past_maxwait_are_a_critical_exhaustion(exhausted):
    (f,) = run(exhausted)
    assert f.code == "pgbouncer.pool_exhausted" and f.level is Level.CRITICAL
    assert f.evidence["cl_waiting"] == 18 and f.evidence["pool_size"] == 2 and f.evidence["sv_active"] == 2
    assert f.value >= 1.0 and f.threshold == 1.0 and f.evidence["cl_waiting_samples"] == [18] * 5
    assert f.actions[0].params == {"pool_size": 4} and "SET default_pool_size = 4" in f.actions[0].manual
    assert f.actions[1].id == "pgbouncer.inspect"  # a bigger pool is no cure for slow statements


def test_a_healthy_pool_gives_no_finding(recorded):
    assert run(recorded("pgbouncer_healthy.json", PgbouncerEvidence)) == []


def test_clients_that_queue_only_at_the_end_of_the_window_are_not_exhaustion(exhausted):
    ev = with_pool(exhausted, cl_waiting_samples=[0, 0, 0, 5, 18], sv_active_samples=[1, 2, 2, 2, 2])
    assert [f.code for f in run(ev)] == []


def test_a_short_queue_under_the_wait_limit_is_saturation_not_exhaustion(exhausted):
    (f,) = run(exhausted, cfg(pgbouncer_maxwait_s=30))
    assert f.code == "pgbouncer.pool_saturated" and f.level is Level.WARNING
    assert "2 of 2 active" in f.title and "18 client(s) queue" in f.title


def test_every_server_connection_busy_through_the_window_without_a_queue_is_saturation(exhausted):
    ev = with_pool(exhausted, cl_waiting=0, cl_waiting_samples=[0] * 5, maxwait_s=0.0, maxwait_max_s=0.0)
    (f,) = run(ev)
    assert f.code == "pgbouncer.pool_saturated" and f.value == 2 and f.threshold == 2


def test_max_db_connections_below_the_pool_size_is_the_cap_raised(exhausted):
    ev = with_pool(exhausted, pool_size=20, max_db_connections=2)
    (f,) = run(ev)
    assert f.evidence["server_cap"] == 2
    assert f.actions[0].command == "perfbook fix pgbouncer.raise_pool_size --max-db-connections 4"


def test_a_database_with_its_own_pool_size_is_told_to_edit_its_entry(exhausted):
    ev = with_pool(exhausted, pool_size=3)  # default_pool_size is 2 in the recording
    (f,) = run(ev)
    assert f.actions[0].id == "pgbouncer.database_pool_size" and f.actions[0].command is None
    assert "pool_size=6" in f.actions[0].manual and "RELOAD" in f.actions[0].manual


def test_an_unreachable_admin_console_is_one_finding_with_the_dsn_redacted():
    ev = Evidence("pgbouncer", "unavailable", 0.01, reason="PgBouncer admin console: connection refused")
    (f,) = run(ev)
    assert f.code == "pgbouncer.unreachable" and "s3cret" not in f.subject and "connection refused" in f.title


def test_skipped_gives_nothing():
    assert run(Evidence("pgbouncer", "skipped", 0.0, reason="no [pgbouncer] dsn")) == []
