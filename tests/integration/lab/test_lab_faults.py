"""Every fault really changes the stack when on, and ``off`` really restores the healthy state."""

from __future__ import annotations

import time

import httpx
import psutil
import psycopg
import pytest
import redis

from perfbook.errors import PerfbookError
from perfbook.lab import seed
from perfbook.lab.client import list_faults, switch_fault
from perfbook.lab.state import LabState, process_tag


@pytest.fixture
def fault(lab: LabState):
    """Switch faults on through the admin endpoint; whatever a test left on is switched off after it."""
    switched: list[str] = []

    def on(name: str, **params) -> dict:
        switched.append(name)
        return switch_fault(lab, name, True, params)

    yield on
    for name in switched:
        switch_fault(lab, name, False)
    assert not any(entry["on"] for entry in list_faults(lab).values())


def _query(lab: LabState, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(lab.admin_dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_admin_endpoint_needs_the_token(lab: LabState) -> None:
    response = httpx.post(f"{lab.backend_url}/admin/faults/slow", json={"on": True})
    assert response.status_code == 401
    wrong = httpx.post(
        f"{lab.backend_url}/admin/faults/slow", json={"on": True}, headers={"Authorization": "Bearer x"}
    )
    assert wrong.status_code == 401
    with pytest.raises(PerfbookError, match="unknown fault"):
        switch_fault(lab, "nosuch", True)


def test_slow_delays_one_endpoint_then_not(lab: LabState, fault) -> None:
    fault("slow", delay_s=1.0)
    time.sleep(0.5)  # both workers poll the switch every 200 ms
    started = time.monotonic()
    assert httpx.get(f"{lab.backend_url}/api/v1/agents", timeout=10).status_code == 200
    assert time.monotonic() - started >= 1.0
    switch_fault(lab, "slow", False)
    time.sleep(0.5)
    started = time.monotonic()
    httpx.get(f"{lab.backend_url}/api/v1/agents", timeout=10)
    assert time.monotonic() - started < 1.0


def test_errors_reach_both_workers_then_stop(lab: LabState, fault) -> None:
    fault("errors", share=1.0)
    time.sleep(0.5)
    statuses = {httpx.get(f"{lab.backend_url}/api/v1/users/1").status_code for _ in range(20)}
    assert statuses == {500}
    switch_fault(lab, "errors", False)
    time.sleep(0.5)
    assert {httpx.get(f"{lab.backend_url}/api/v1/users/1").status_code for _ in range(20)} == {200}


def _api_cpu_s(lab: LabState) -> float:
    tag = process_tag(lab.lab_id, "api")
    procs = [p for p in psutil.process_iter(["cmdline"]) if tag in (p.info["cmdline"] or [])]
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def test_cpu_burns_in_the_backend_then_stops(lab: LabState, fault) -> None:
    fault("cpu")
    time.sleep(0.5)
    before = _api_cpu_s(lab)
    time.sleep(2.0)
    assert _api_cpu_s(lab) - before > 0.5  # a busy loop, even on a shared 2-core machine
    switch_fault(lab, "cpu", False)
    time.sleep(0.5)
    before = _api_cpu_s(lab)
    time.sleep(2.0)
    assert _api_cpu_s(lab) - before < 0.5


def _api_rss_mb(lab: LabState) -> float:
    tag = process_tag(lab.lab_id, "api")
    procs = [p for p in psutil.process_iter(["cmdline"]) if tag in (p.info["cmdline"] or [])]
    return sum(p.memory_info().rss for p in procs) / 2**20


def test_leak_grows_steadily_and_off_frees_it(lab: LabState, fault) -> None:
    baseline = _api_rss_mb(lab)
    fault("leak", mb_per_s=10)
    time.sleep(3.0)
    grown = _api_rss_mb(lab)
    assert grown - baseline > 15
    switch_fault(lab, "leak", False)
    time.sleep(1.0)
    assert _api_rss_mb(lab) < grown - 15


def test_nocache_makes_every_read_miss(lab: LabState, fault) -> None:
    cache = redis.Redis.from_url(lab.redis_url)
    httpx.get(f"{lab.backend_url}/api/v1/users/7")
    hits = int(cache.info("stats")["keyspace_hits"])
    httpx.get(f"{lab.backend_url}/api/v1/users/7")
    assert int(cache.info("stats")["keyspace_hits"]) == hits + 1
    fault("nocache")
    time.sleep(0.5)
    hits = int(cache.info("stats")["keyspace_hits"])
    for _ in range(5):
        httpx.get(f"{lab.backend_url}/api/v1/users/7")
    assert int(cache.info("stats")["keyspace_hits"]) == hits


def test_seqscan_drops_the_email_index_and_off_recreates_it(lab: LabState, fault) -> None:
    index = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)"
    fault("seqscan")
    assert _query(lab, index, (seed.EMAIL_INDEX,)) == []
    plan = _query(lab, "EXPLAIN SELECT * FROM users WHERE email = 'x'")
    assert "Seq Scan" in plan[0][0] or "Gather" in plan[0][0]
    switch_fault(lab, "seqscan", False)
    assert _query(lab, index, (seed.EMAIL_INDEX,)) == [(True,)]


def test_bloat_leaves_dead_tuples_and_off_vacuums(lab: LabState, fault) -> None:
    stats = "SELECT n_dead_tup, n_live_tup FROM pg_stat_user_tables WHERE relname = 'agents'"
    options = "SELECT reloptions FROM pg_class WHERE relname = 'agents'"
    fault("bloat")
    time.sleep(1.0)  # table statistics are published at most once a second
    dead, live = _query(lab, stats)[0]
    assert dead > live
    assert _query(lab, options) == [(["autovacuum_enabled=false"],)]
    switch_fault(lab, "bloat", False)
    time.sleep(1.0)
    dead, live = _query(lab, stats)[0]
    assert dead < live * 0.05
    assert _query(lab, options) == [(None,)]


def test_redis_full_refuses_writes_and_off_restores(lab: LabState, fault) -> None:
    client = redis.Redis.from_url(lab.redis_url)
    before = (client.config_get("maxmemory"), client.config_get("maxmemory-policy"))
    fault("redis_full")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.set("lab-test-key", "x" * 100_000)
    assert httpx.get(f"{lab.backend_url}/api/v1/users/8").status_code == 200  # a full cache is not an outage
    switch_fault(lab, "redis_full", False)
    assert (client.config_get("maxmemory"), client.config_get("maxmemory-policy")) == before
    assert client.set("lab-test-key", "x")
    client.delete("lab-test-key")


def _holder_sessions(lab: LabState, state: str | None = None) -> int:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'perfbook-lab-fault'"
    if state:
        sql += f" AND state = '{state}'"
    return _query(lab, sql)[0][0]


def test_lock_holds_share_on_agents_and_off_releases(lab: LabState, fault) -> None:
    entry = fault("lock")
    locks = "SELECT mode FROM pg_locks WHERE relation = 'agents'::regclass AND granted AND mode = 'ShareLock'"
    assert _query(lab, locks) == [("ShareLock",)]
    assert psutil.pid_exists(entry["holder_pid"])
    switch_fault(lab, "lock", False)
    assert _query(lab, locks) == []
    assert _holder_sessions(lab) == 0


def test_idle_tx_leaves_sessions_idle_in_transaction(lab: LabState, fault) -> None:
    fault("idle_tx", sessions=3)
    assert _holder_sessions(lab, "idle in transaction") == 3
    switch_fault(lab, "idle_tx", False)
    assert _holder_sessions(lab) == 0


def test_pool_holds_most_connections_but_the_reserved(lab: LabState, fault) -> None:
    fault("pool")
    used, usable = _query(
        lab,
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
        " current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int",
    )[0]
    assert used / usable > 0.8
    assert httpx.get(f"{lab.backend_url}/health").status_code == 200
    switch_fault(lab, "pool", False)
    assert _holder_sessions(lab) == 0


def test_a_fault_past_its_time_switches_itself_off(lab: LabState) -> None:
    from perfbook.lab.faultstate import FaultStore

    switch_fault(lab, "bloat", True)
    store = FaultStore(lab.dir)
    with store.locked() as faults:
        faults["bloat"].until = time.time() - 1  # as if its 10 minutes were over
    deadline = time.monotonic() + 15
    while store.read()["bloat"].on and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not store.read()["bloat"].on
    assert _query(lab, "SELECT reloptions FROM pg_class WHERE relname = 'agents'") == [(None,)]


def test_fault_params_are_typed_and_checked_before_anything_changes(lab: LabState, perfbook) -> None:
    for bad, names in (
        (("delay_s=abc",), "delay_s must be a number from 0 to 60, got 'abc'"),
        (("bogus=1",), "unknown parameter 'bogus'"),
    ):
        res = perfbook("lab", "fault", "slow", "on", *(f"--param={b}" for b in bad), "--dir", str(lab.dir))
        assert res.exit_code == 2 and res.stdout == ""
        assert len(res.stderr.strip().splitlines()) == 1 and names in res.stderr
        assert "slow takes endpoint: text, delay_s: a number from 0 to 60" in res.stderr
    assert not list_faults(lab)["slow"]["on"]  # nothing changed
    # the admin endpoint refuses them too (400, one line), never a 500 later on every request
    with pytest.raises(PerfbookError, match="HTTP 400: slow: delay_s must be a number"):
        switch_fault(lab, "slow", True, {"delay_s": "abc"})
    assert not list_faults(lab)["slow"]["on"]


def test_fault_on_says_a_sentence_and_on_again_applies_the_new_params(lab: LabState, perfbook) -> None:
    try:
        res = perfbook("lab", "fault", "slow", "on", "--param", "delay_s=0.2", "--dir", str(lab.dir))
        assert res.exit_code == 0, res.stderr
        assert res.stdout.startswith(
            "fault slow is on: /api/v1/agents answers 0.2 s late (switches itself off in"
        )
        assert "{" not in res.stdout
        again = perfbook(
            "lab", "fault", "slow", "on", "--param", "delay_s=1.5", "--json", "--dir", str(lab.dir)
        )
        assert again.exit_code == 0 and again.json["params"]["delay_s"] == 1.5
        assert list_faults(lab)["slow"]["params"]["delay_s"] == 1.5
        time.sleep(0.5)  # both workers poll the switch every 200 ms
        started = time.monotonic()
        assert httpx.get(f"{lab.backend_url}/api/v1/agents", timeout=10).status_code == 200
        assert time.monotonic() - started >= 1.4
    finally:
        off = perfbook("lab", "fault", "slow", "off", "--dir", str(lab.dir))
    assert off.stdout.strip() == "fault slow is off: the stack is back to its healthy state."
