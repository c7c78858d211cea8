"""Start and stop the whole lab: PostgreSQL, Redis, the backend, the frontend, background traffic.

    state = up(LabOptions(state_dir, port=0, frontend_port=0, traffic=True))
    describe(state)        # what runs where
    down(state_dir)        # no process, no port left behind

The supervisor binds the listening sockets itself and hands them to the servers, so ``--port 0``
has no race and a port in use fails before anything slow starts. Every server runs in its own
session (its pid is its process group), so ``down`` stops it with everything it started, fault
holders included. State is saved after each step: a failed ``up`` is undone by ``down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from perfbook import services
from perfbook.errors import PerfbookError
from perfbook.files import private_dir
from perfbook.lab import credentials, labconfig, seed
from perfbook.lab.state import (
    BackendSettings,
    LabState,
    ProcessState,
    new_lab_id,
    process_tag,
    redis_db_url,
    redis_dbs,
    write_private_json,
)
from perfbook.lab.traffic import TrafficPlan, warm_cache
from perfbook.redact import redact_text, redact_url

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 8.0


@dataclass
class LabOptions:
    """What ``lab up`` was asked for."""

    state_dir: Path
    port: int = 8001
    frontend_port: int = 3000
    traffic: bool = False
    traffic_rate_rps: float = TrafficPlan.rate_rps
    users: int = seed.USERS_ROWS
    postgres_dsn: str | None = None  # a database the lab may fill (its own tables); None = a private server
    redis_url: str | None = None  # the cache db (the queue is the next one); None = a private server


def running(state: LabState) -> bool:
    """True when any process of the lab is still alive."""
    return any(pid_alive(p.pid) for p in state.processes.values())


def up(opts: LabOptions) -> LabState:
    """Start everything and wait until the backend and frontend answer; undo it all on failure."""
    state_dir = opts.state_dir
    existing = LabState.load(state_dir)
    if existing and running(existing):
        raise PerfbookError(
            f"a lab already runs from {state_dir} ({existing.backend_url})",
            hint="stop it with: perfbook lab down (or use another --dir)",
        )
    if existing:
        down(state_dir)
    private_dir(state_dir)  # state.json, backend.json and secrets.env hold the lab's passwords
    for sub in ("logs", "metrics", "services"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    api_sock = _listen(opts.port, "--port")
    web_sock = _listen(opts.frontend_port, "--frontend-port")
    state = LabState(
        lab_id=new_lab_id(),
        state_dir=str(state_dir),
        admin_token=os.urandom(16).hex(),
        app_dsn="",
        admin_dsn="",
        redis_url="",
        started_at=time.time(),
    )
    try:
        _start_services(state, opts)
        _start_servers(state, api_sock, web_sock)
        if opts.traffic:
            start_traffic(state, opts.traffic_rate_rps)
        labconfig.write(state)
    except BaseException:
        api_sock.close()
        web_sock.close()
        down(state_dir)
        raise
    return state


def _listen(port: int, flag: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as err:
        sock.close()
        raise PerfbookError(
            f"cannot listen on 127.0.0.1:{port}: {err.strerror}",
            hint=f"choose another {flag}, or {flag} 0 for a free one",
        ) from None
    sock.listen(512)
    return sock


def _start_services(state: LabState, opts: LabOptions) -> None:
    parent = Path(state.state_dir) / "services"
    if opts.postgres_dsn:
        _check_reachable_postgres(opts.postgres_dsn)
        state.admin_dsn = state.app_dsn = opts.postgres_dsn
    else:  # private: password auth for every connection, generated passwords (see lab/credentials.py)
        pg = services.start_postgres(parent, password=credentials.new_password())
        state.postgres = pg.to_state()
        state.save()
        app_password = credentials.new_password()
        state.admin_dsn = pg.dsn(seed.APP_DB)
        state.app_dsn = pg.dsn(seed.APP_DB, seed.APP_ROLE, password=app_password)
        seed.create_database(pg.dsn(), password=app_password)
    if opts.redis_url:
        _check_reachable_redis(opts.redis_url)
        state.redis_url = opts.redis_url
    else:
        rd = services.start_redis(parent, password=credentials.new_password())
        state.redis = rd.to_state()
        state.redis_url = rd.url(0)
    state.save()
    credentials.write_secrets(state.dir, state.app_dsn, state.redis_url)
    seed.seed(state.admin_dsn, state.app_dsn, users=opts.users)


def _check_reachable_postgres(dsn: str) -> None:
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PerfbookError(f"--postgres-dsn {redact_url(dsn)}: {redact_text(first)}") from None


def _check_reachable_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as err:
        raise PerfbookError(f"--redis-url {redact_url(url)}: {redact_text(str(err))}") from None


def _spawn(state: LabState, role: str, module: str, args: list[str], fds: tuple[int, ...] = ()) -> int:
    log = open(Path(state.state_dir) / "logs" / f"{role}.log", "ab")  # noqa: SIM115 - the child keeps it
    cmd = [sys.executable, "-m", module, process_tag(state.lab_id, role), *args]
    # Its own session: the pid is the group id that `down` signals, and Ctrl-C in this
    # terminal does not reach a lab meant to outlive this command.
    child = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        pass_fds=fds,
        start_new_session=True,
        env=_child_env(),
    )
    log.close()
    return child.pid


def _child_env() -> dict[str, str]:
    """The environment without PERFBOOK_* settings: nothing of another stack leaks into the lab."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}


def _start_servers(state: LabState, api_sock: socket.socket, web_sock: socket.socket) -> None:
    state_dir = Path(state.state_dir)
    settings = BackendSettings(
        lab_id=state.lab_id,
        state_dir=state.state_dir,
        app_dsn=state.app_dsn,
        admin_dsn=state.admin_dsn,
        redis_url=state.redis_url,
        admin_token=state.admin_token,
        frontend_origin=f"http://127.0.0.1:{web_sock.getsockname()[1]}",
    )
    write_private_json(state_dir / "backend.json", asdict(settings))
    (state_dir / "faults.json").unlink(missing_ok=True)
    shutil.rmtree(state_dir / "metrics", ignore_errors=True)
    (state_dir / "metrics").mkdir()
    api_fd, web_fd = api_sock.fileno(), web_sock.fileno()
    pid = _spawn(
        state,
        "api",
        "perfbook.lab.backend",
        [
            "--fd",
            str(api_fd),
            "--settings",
            str(state_dir / "backend.json"),
            "--metrics-dir",
            str(state_dir / "metrics"),
        ],
        fds=(api_fd,),
    )
    state.processes["api"] = ProcessState(pid, "api", api_sock.getsockname()[1])
    api_base = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
    pid = _spawn(
        state, "web", "perfbook.lab.frontend", ["--fd", str(web_fd), "--api-base", api_base], fds=(web_fd,)
    )
    state.processes["web"] = ProcessState(pid, "web", web_sock.getsockname()[1])
    state.save()
    api_sock.close()
    web_sock.close()
    _wait_ready(state, state.backend_url + "/health", "api")
    _wait_ready(state, state.frontend_url + "/", "web")
    # A service just deployed warms its cache; a cold one would read as a low hit rate at first.
    asyncio.run(warm_cache(state.backend_url))


def _wait_ready(state: LabState, url: str, role: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        if not pid_alive(state.processes[role].pid):
            break
        time.sleep(0.1)
    log = Path(state.state_dir) / "logs" / f"{role}.log"
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    raise PerfbookError(
        f"lab {role} did not come up at {url}: {' '.join(tail) or 'no output'}", hint=f"see {log}"
    )


def start_traffic(state: LabState, rate_rps: float) -> None:
    """Background traffic until ``down`` (or ``stop_traffic``)."""
    pid = _spawn(
        state,
        "gen",
        "perfbook.lab.traffic",
        ["--base-url", state.backend_url, "--frontend-url", state.frontend_url, "--rate", str(rate_rps)],
    )
    state.processes["gen"] = ProcessState(pid, "gen")
    state.save()


def down(state_dir: Path) -> LabState | None:
    """Stop every process and server of the lab; the state it had, or None if there was none."""
    state = LabState.load(state_dir)
    if state is None:
        return None
    for role in ("gen", "api", "web"):  # traffic first, so the backend is not stopped under load
        if role in state.processes:
            stop_group(state.processes[role].pid)
    if state.redis:
        services.RedisServer(**state.redis).stop()
    elif state.redis_url:
        _clean_given_redis(state)
    if state.postgres:
        services.PostgresServer(**state.postgres).stop()
    elif state.app_dsn:
        with contextlib.suppress(Exception):  # best effort: the server may be gone already
            seed.drop(state.app_dsn)
    for name in ("state.json", "backend.json", "faults.json", "perfbook.toml", credentials.SECRETS_FILE):
        (state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "metrics", ignore_errors=True)
    shutil.rmtree(state_dir / "services", ignore_errors=True)
    return state


def _clean_given_redis(state: LabState) -> None:
    """Delete the lab's keys (by pattern, SCAN + UNLINK) from a Redis the lab did not start."""
    import redis

    from perfbook.lab.app import WS_QUEUE_KEY

    cache_db, queue_db = redis_dbs(state.redis_url)
    with contextlib.suppress(redis.RedisError):
        cache = redis.Redis.from_url(redis_db_url(state.redis_url, cache_db), socket_timeout=5)
        for pattern in ("user:*", "users:page:*", "agent:*", "agents:*"):
            batch = list(cache.scan_iter(match=pattern, count=500))
            for i in range(0, len(batch), 500):
                cache.unlink(*batch[i : i + 500])
        redis.Redis.from_url(redis_db_url(state.redis_url, queue_db), socket_timeout=5).unlink(WS_QUEUE_KEY)


def stop_group(pgid: int) -> None:
    """SIGTERM a process group, SIGKILL what is left after STOP_TIMEOUT_S, reap our own children."""
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 3.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pgid, os.WNOHANG)  # our child when up and down run in one process
            if not _group_alive(pgid):
                return
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    for entry in os.scandir("/proc"):
        if (
            entry.name.isdigit()
            and _stat_fields(int(entry.name))[2:3] == [str(pgid)]
            and pid_alive(int(entry.name))
        ):
            return True
    return False


def _stat_fields(pid: int) -> list[str]:
    """``/proc/PID/stat`` after the command name: state, ppid, pgrp, ... ([] when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def pid_alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"
