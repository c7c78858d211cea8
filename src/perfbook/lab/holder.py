"""The fault holder: a small process holding database sessions for the lock / idle_tx / pool faults.

    PERFBOOK_LAB_HOLDER_DSN=DSN python -m perfbook.lab.holder pblab-1a2b-hold lock --max-s 600 --ready-file F

Its sessions are its own (never the backend's), it writes ``--ready-file`` once they hold what
they should, and it exits by itself after ``--max-s`` (or on SIGTERM), so a fault left on is
never left on forever. Its first argument is the lab's process tag, so ``ps`` shows whose it is.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

import psycopg

from perfbook.lab import credentials
from perfbook.lab.proctitle import set_process_name

APP_NAME = "perfbook-lab-fault"
RESERVE_FREE = 3  # pool: leave a few ordinary slots so triage and `off` can still connect
_waiters: list[threading.Thread] = []  # lock: the write queued behind the holder (see hold_lock)


def _connect(dsn: str, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=autocommit, application_name=APP_NAME)


def hold_lock(dsn: str, sessions: int) -> list[psycopg.Connection]:
    """A transaction holding SHARE on agents: reads go on, every INSERT / UPDATE waits.

    One write of its own queues behind it at once (a thread, no lock_timeout), so while the fault
    is on a blocked write is always there to see: the lab's traffic writes agents only about once
    in 2.5 s, and each of those gives up after its 8 s lock_timeout, so a probe could otherwise
    catch a moment with no waiter at all. Ending the holder's session lets that write through.
    """
    conn = _connect(dsn, autocommit=False)
    conn.execute("LOCK TABLE agents IN SHARE MODE")
    waiter = threading.Thread(target=_wait_behind, args=(dsn,), daemon=True)
    waiter.start()
    _waiters.append(waiter)
    return [conn]


def _wait_behind(dsn: str) -> None:
    """An UPDATE that changes nothing, in a session of its own, waiting for the lock to go."""
    try:
        with _connect(dsn) as conn:
            conn.execute("UPDATE agents SET status = status WHERE id = (SELECT min(id) FROM agents)")
    except psycopg.Error:
        pass  # the holder is going away (terminated, or the fault is off)


def hold_idle_tx(dsn: str, sessions: int) -> list[psycopg.Connection]:
    """Sessions that read inside a transaction and then sit idle in it."""
    conns = []
    for _ in range(sessions):
        conn = _connect(dsn, autocommit=False)
        conn.execute("SELECT count(*) FROM agents WHERE status = 'running'")
        conns.append(conn)
    return conns


def hold_pool(dsn: str, sessions: int) -> list[psycopg.Connection]:
    """Idle sessions filling the ordinary slots of max_connections, all but RESERVE_FREE."""
    first = _connect(dsn)
    usable, used = first.execute(  # type: ignore[misc]  # one row, always
        "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    ).fetchone()
    conns = [first]
    for _ in range(max(0, usable - used - RESERVE_FREE)):
        conns.append(_connect(dsn))
    return conns


HOLDERS = {"lock": hold_lock, "idle_tx": hold_idle_tx, "pool": hold_pool}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="perfbook.lab.holder")
    parser.add_argument("tag")
    parser.add_argument("mode", choices=sorted(HOLDERS))
    parser.add_argument(
        "--dsn", default=None, help=f"default: ${credentials.HOLDER_DSN_VAR} (argv is world-readable)"
    )
    parser.add_argument("--max-s", type=float, default=600.0)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args(argv)
    set_process_name(args.tag)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    conns = HOLDERS[args.mode](args.dsn or os.environ[credentials.HOLDER_DSN_VAR], args.sessions)
    if args.ready_file:
        args.ready_file.write_text(str(len(conns)))
    done.wait(args.max_s)
    for conn in conns:
        conn.close()
    for waiter in _waiters:  # the lock is gone: its write goes through and its session ends
        waiter.join(timeout=5.0)


if __name__ == "__main__":
    main()
