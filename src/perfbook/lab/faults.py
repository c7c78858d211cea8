"""Switching faults on and off for real — what the admin endpoint runs (in a worker thread).

``slow``, ``errors``, ``nocache``, ``cpu`` and ``leak`` are switches the workers read on every
request or poll. The database and cache faults change the servers themselves, and ``off`` puts
them back: the index recreated, the table vacuumed with autovacuum re-enabled, Redis' maxmemory
and policy restored, the fault-holder process (lock, idle_tx, pool) stopped.

    result = switch(settings, "seqscan", on=True)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis

from perfbook.lab import credentials, seed
from perfbook.lab.faultstate import FAULTS, MAX_FAULT_S, FaultEntry, FaultParamError, FaultStore, check_params
from perfbook.lab.pool import APP_NAME
from perfbook.lab.state import BackendSettings, process_tag

DEFAULT_PARAMS: dict[str, dict] = {
    "slow": {"endpoint": "/api/v1/agents", "delay_s": 3.0},
    "errors": {"share": 0.3},
    "cpu": {"threads": 1},
    "leak": {"mb_per_s": 5.0, "cap_mb": 600.0},
    "idle_tx": {"sessions": 3},
    "bloat": {"rounds": 4},
}
_children: list[subprocess.Popen] = []  # fault holders this worker started; reaped by reap_children


class FaultError(Exception):
    """A fault could not be switched (unknown name, or the server refused)."""


def switch(settings: BackendSettings, name: str, on: bool, params: dict | None = None) -> FaultEntry:
    """Switch ``name`` on or off (idempotent) and return its new entry. On again with other
    parameters: switched off, then on with the new ones. Bad parameters: FaultError, nothing changed."""
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
    try:
        params = check_params(name, params or {})
    except FaultParamError as err:
        raise FaultError(str(err)) from None
    store = FaultStore(Path(settings.state_dir))
    with store.locked() as faults:
        entry = faults[name]
        wanted = {**DEFAULT_PARAMS.get(name, {}), **params}
        if on == entry.on and (not on or not params or wanted == entry.params):
            return entry
        if on and entry.on:  # new parameters: put the old ones back first, then apply these
            _APPLY[name][1](settings, entry)
            entry = FaultEntry()
        if on:
            entry = FaultEntry(
                on=True,
                params={**DEFAULT_PARAMS.get(name, {}), **(params or {})},
                since=time.time(),
                until=time.time() + MAX_FAULT_S,
            )
            _APPLY[name][0](settings, entry)
        else:
            _APPLY[name][1](settings, entry)
            entry = FaultEntry()
        faults[name] = entry
        return entry


def expire(settings: BackendSettings) -> list[str]:
    """Switch off every fault past its ``until``; the names switched off."""
    expired = [
        n for n, e in FaultStore(Path(settings.state_dir)).read().items() if e.on and e.until < time.time()
    ]
    for name in expired:
        switch(settings, name, on=False)
    return expired


def _noop(settings: BackendSettings, entry: FaultEntry) -> None:
    """Switch-only faults: the workers read the entry itself."""


def _seqscan_on(settings: BackendSettings, entry: FaultEntry) -> None:
    with psycopg.connect(settings.app_dsn, autocommit=True) as conn:
        conn.execute(f"DROP INDEX IF EXISTS {seed.EMAIL_INDEX}")
    _flush_app_stats(settings)
    _reset_table_counters(settings, "users")  # the scan counts start with the fault, as in an incident


def _flush_app_stats(settings: BackendSettings) -> None:
    """Make the backend's sessions publish their pending statistics before a reset.

    PG 15 sessions flush counts at most once a second, and an idle one only after 10 s, so old
    index scans would land after the reset. Idle pool sessions are ended (a session flushes on
    exit; the pool reconnects); busy ones have flushed after a second.
    """
    time.sleep(1.1)
    with psycopg.connect(settings.admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND state = 'idle'",
            (APP_NAME,),
        )
    time.sleep(0.3)


def _reset_table_counters(settings: BackendSettings, table: str) -> None:
    """Zero the scan counts of ``table`` and of each of its indexes (they are counted apart)."""
    # resetting statistics is for superusers
    with psycopg.connect(settings.admin_dsn, autocommit=True) as conn:
        try:
            conn.execute(
                "SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class WHERE oid = %s::regclass"
                " UNION ALL SELECT pg_stat_reset_single_table_counters(indexrelid) FROM pg_index"
                " WHERE indrelid = %s::regclass",
                (table, table),
            )
        except psycopg.errors.InsufficientPrivilege:
            return  # a given server where the lab's role is no superuser: the counts keep their history
        conn.execute(f"ANALYZE {table}")  # the reset zeroed n_live_tup too: count the rows again


def _seqscan_off(settings: BackendSettings, entry: FaultEntry) -> None:
    with psycopg.connect(settings.app_dsn, autocommit=True) as conn:
        invalid = conn.execute(
            "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(%s) AND NOT indisvalid",
            (seed.EMAIL_INDEX,),
        ).fetchone()
        if invalid:  # a CONCURRENTLY build that failed half-way leaves an invalid index behind
            conn.execute(f"DROP INDEX {seed.EMAIL_INDEX}")
        conn.execute(seed.INDEXES[seed.EMAIL_INDEX].format(c="CONCURRENTLY IF NOT EXISTS"))
    _reset_table_counters(settings, "users")


def _bloat_on(settings: BackendSettings, entry: FaultEntry) -> None:
    # status is indexed and changes every round, so no update is HOT and page pruning cannot
    # quietly shrink n_dead_tup: only a VACUUM (off) removes the dead rows.
    with psycopg.connect(settings.app_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE agents SET (autovacuum_enabled = false)")
        for k in range(int(entry.params.get("rounds", 4))):
            conn.execute(
                "UPDATE agents SET status = (ARRAY['idle','running','paused','error'])[1 + (id + %s) %% 4]",
                (k + 1,),
            )


def _bloat_off(settings: BackendSettings, entry: FaultEntry) -> None:
    with psycopg.connect(settings.app_dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE agents")
        conn.execute("ALTER TABLE agents RESET (autovacuum_enabled)")


def _redis_full_on(settings: BackendSettings, entry: FaultEntry) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    try:
        entry.saved = {
            "maxmemory": client.config_get("maxmemory")["maxmemory"],
            "maxmemory-policy": client.config_get("maxmemory-policy")["maxmemory-policy"],
        }
        used_bytes = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        # below what is in use, not at it: memory that dips under the limit (a freed client buffer,
        # an expired key) would let writes through again and make the fault come and go
        client.config_set("maxmemory", max(used_bytes - 256 * 1024, used_bytes // 2))
    finally:
        client.close()


def _redis_full_off(settings: BackendSettings, entry: FaultEntry) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.config_set("maxmemory", entry.saved.get("maxmemory", "0"))
        client.config_set("maxmemory-policy", entry.saved.get("maxmemory-policy", "noeviction"))
    finally:
        client.close()


def _holder_on(settings: BackendSettings, entry: FaultEntry, mode: str) -> None:
    log = open(Path(settings.state_dir) / "logs" / "holder.log", "ab")  # noqa: SIM115 - the child keeps it
    cmd = [
        sys.executable,
        "-m",
        "perfbook.lab.holder",
        process_tag(settings.lab_id, "hold"),
        mode,
        "--max-s",
        str(MAX_FAULT_S),
        "--sessions",
        str(entry.params.get("sessions", 3)),
    ]
    ready = Path(settings.state_dir) / f"holder-{mode}.ready"
    ready.unlink(missing_ok=True)
    cmd += ["--ready-file", str(ready)]
    # argv is world-readable, environ is not
    env = {**os.environ, credentials.HOLDER_DSN_VAR: settings.app_dsn}
    child = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
    log.close()
    _children.append(child)
    entry.holder_pid = child.pid
    deadline = time.monotonic() + 20
    while not ready.exists():  # the holder writes it once its sessions hold what they should
        if child.poll() is not None or time.monotonic() > deadline:
            raise FaultError(f"fault holder for {mode} did not get ready (see logs/holder.log)")
        time.sleep(0.05)
    ready.unlink(missing_ok=True)


def _holder_off(settings: BackendSettings, entry: FaultEntry) -> None:
    if entry.holder_pid:
        stop_pid(entry.holder_pid)
    reap_children()


def stop_pid(pid: int, timeout_s: float = 5.0) -> None:
    """SIGTERM ``pid``, then SIGKILL if it is still there after ``timeout_s``."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            reap_children()
            if not _alive(pid):
                return
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def reap_children() -> None:
    """Collect exited fault holders so none lingers as a zombie."""
    _children[:] = [c for c in _children if c.poll() is None]


def _holder(mode: str) -> tuple[Callable, Callable]:
    return (lambda s, e: _holder_on(s, e, mode)), _holder_off


_APPLY: dict[
    str, tuple[Callable[[BackendSettings, FaultEntry], None], Callable[[BackendSettings, FaultEntry], None]]
] = {
    "slow": (_noop, _noop),
    "errors": (_noop, _noop),
    "cpu": (_noop, _noop),
    "leak": (_noop, _noop),
    "nocache": (_noop, _noop),
    "seqscan": (_seqscan_on, _seqscan_off),
    "lock": _holder("lock"),
    "idle_tx": _holder("idle_tx"),
    "pool": _holder("pool"),
    "bloat": (_bloat_on, _bloat_off),
    "redis_full": (_redis_full_on, _redis_full_off),
}
