"""One watch per store: a lease (holder, expiry) in the store, renewed each run; a second watch refuses to
start, ``--takeover`` takes it and the first watch stops; an expired lease is taken; on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from probes.servers import AppServer
from sqlalchemy import select

from perfbook.alerts.rules import effective_rules
from perfbook.alerts.state import AlertState
from perfbook.config import Config
from perfbook.store import Store, alert_states, watch_leases
from perfbook.watch import lease as leases
from perfbook.watch import records
from perfbook.watch.lease import Lease, LeaseHeld, LeaseLost
from watch.watch_kit import lines, store_of, write_config

PERFBOOK = [sys.executable, "-m", "perfbook"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'perfbook.db'}"
    else:
        url = request.getfixturevalue("pg_dsn").replace("postgresql://", "postgresql+psycopg://", 1)
    s = Store(url)
    yield s
    s.close()


def test_the_lease_is_held_renewed_taken_over_and_guards_the_alert_states(store):
    now = time.time()
    first = Lease.acquire(store, ttl_s=60, now=now, holder="pid 1 on web-1")
    with pytest.raises(LeaseHeld, match=r"holds this store's lease: pid 1 on web-1 .*--takeover"):
        Lease.acquire(store, ttl_s=60, now=now + 1, holder="pid 2 on web-2")
    first.renew(now=now + 30)
    assert leases.current(store)["expires_at_s"] == pytest.approx(now + 90)
    with pytest.raises(LeaseHeld):  # renewed: still held at the first expiry
        Lease.acquire(store, ttl_s=60, now=now + 61, holder="pid 2 on web-2")

    second = Lease.acquire(store, ttl_s=60, now=now + 62, holder="pid 2 on web-2", takeover=True)
    assert second.taken_from["holder"] == "pid 1 on web-1"
    with pytest.raises(LeaseLost, match="taken over by pid 2 on web-2"):
        first.renew(now=now + 63)
    rules = effective_rules(Config())
    mine = AlertState(rules[0].name, "", "firing", active_since=now, last_held_at=now, fired_at=now)
    records.save_states(store, [mine], rules, now=now, guard=lambda conn: second.check(conn, now=now))
    with pytest.raises(LeaseLost):  # the watch that lost the lease writes no alert state
        records.save_states(store, [], rules, now=now, guard=lambda conn: first.check(conn, now=now))
    kept = store.read(lambda conn: [r.rule for r in conn.execute(select(alert_states))])
    assert kept == [rules[0].name]

    first.release()  # not the holder: nothing happens
    assert leases.current(store)["holder"] == "pid 2 on web-2"
    second.release()
    assert leases.current(store) is None
    expired = Lease.acquire(store, ttl_s=1, now=now, holder="pid 3 on gone")
    # expired: no --takeover needed
    taken = Lease.acquire(store, ttl_s=60, now=now + 5, holder="pid 4 on web-4")
    assert taken.taken_from["token"] == expired.token


def test_a_second_watch_refuses_in_one_line_and_an_expired_lease_is_taken(perfbook, tmp_path):
    with AppServer() as app:
        cfg = write_config(tmp_path, app.url)
        store = store_of(tmp_path)
        try:
            Lease.acquire(store, ttl_s=60, now=time.time(), holder="pid 4242 on web-9")
            refused = perfbook("watch", "--config", str(cfg), "--once")
            assert leases.current(store)["holder"] == "pid 4242 on web-9"  # untouched by the refusal
            store.write(lambda conn: conn.execute(watch_leases.update().values(expires_at_s=time.time() - 1)))
            taken = perfbook("watch", "--config", str(cfg), "--once")
            after = leases.current(store)
        finally:
            store.close()
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(
        "error: another perfbook watch holds this store's lease: pid 4242 on web-9 "
    )
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert taken.exit_code == 0, taken.stderr
    assert "took the store's lease over from pid 4242 on web-9 (its lease had expired)" in taken.stderr
    assert after is None  # given back when the watch stopped


def test_takeover_stops_the_watch_that_held_the_lease(perfbook, tmp_path):
    with AppServer() as app:
        cfg = write_config(tmp_path, app.url)
        first = subprocess.Popen(
            [
                *PERFBOOK,
                "watch",
                "--config",
                str(cfg),
                "--interval",
                "1s",
                "--window",
                "0.4s",
                "--duration",
                "60s",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert '"type": "run"' in first.stdout.readline()  # it runs, so it holds the lease
            refused = perfbook("watch", "--config", str(cfg), "--once")
            took = perfbook("watch", "--config", str(cfg), "--once", "--takeover", "--json")
            out, err = first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
    assert refused.exit_code == 2 and f"pid {first.pid} on " in refused.stderr
    assert took.exit_code == 0, took.stderr
    assert (
        f"took the store's lease over from pid {first.pid} on " in took.stderr and "--takeover" in took.stderr
    )
    # one run (an alert of the shared machine's CPU may change state in it too: not this test's matter)
    types = [d["type"] for d in lines(took.stdout)]
    assert types[0] == "run" and types.count("run") == 1, types
    assert first.returncode == 2 and "error: this watch's lease on the store was taken over" in err, err
    assert "Traceback" not in err


def test_serve_watch_refuses_a_store_another_watch_holds(tmp_path):
    from perfbook.config import load_config
    from perfbook.watch.serve import start_for_serve

    cfg = load_config(write_config(tmp_path, "http://127.0.0.1:9"), env={})
    store = store_of(tmp_path)
    try:
        Lease.acquire(store, ttl_s=60, now=time.time(), holder="pid 4242 on web-9")
        with pytest.raises(LeaseHeld, match="pid 4242 on web-9"):
            start_for_serve(cfg)
        assert leases.current(store)["holder"] == "pid 4242 on web-9"
    finally:
        store.close()
