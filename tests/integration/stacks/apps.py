"""Third-party stacks for the triage tests, each in a process of its own (never sharing perfbook's
GIL or event loop): an Express service instrumented by express-prom-bundle (npm), a Flask service
instrumented by prometheus-flask-exporter (PyPI) over a private PostgreSQL, and a traffic process.

Plain context managers, so a script can start the same stacks outside pytest::

    with express_app() as base_url, traffic([base_url + "/slow"], concurrency=8):
        ...   # triage base_url
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

APPS = Path(__file__).resolve().parents[2] / "apps"
EXPRESS = APPS / "express"
START_TIMEOUT_S = 20.0


class AppUnavailable(Exception):
    """A third-party stack cannot be started here (node or npm missing, npm ci failed)."""


def express_modules() -> Path:
    """``tests/apps/express/node_modules``, installed from the lockfile with ``npm ci`` unless the
    locked versions are there (``make test`` installs them first; the npm registry is needed once)."""
    modules = EXPRESS / "node_modules"
    if _locked_versions_installed(modules):
        return modules
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise AppUnavailable(
            "node and npm are needed for the express-prom-bundle tests (apt-get install nodejs npm)"
        )
    with open(EXPRESS / ".npm-install.lock", "w") as guard:  # two test runs installing at once
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not _locked_versions_installed(modules):
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"],
                cwd=EXPRESS,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                raise AppUnavailable(f"npm ci failed in {EXPRESS}: {done.stderr.strip()[-400:]}")
    return modules


def _locked_versions_installed(modules: Path) -> bool:
    """The direct dependencies of package.json are installed at the lockfile's versions."""
    lock = json.loads((EXPRESS / "package-lock.json").read_text())["packages"]
    wanted = json.loads((EXPRESS / "package.json").read_text())["dependencies"]
    for name in wanted:
        installed = modules / name / "package.json"
        if (
            not installed.is_file()
            or json.loads(installed.read_text())["version"] != lock[f"node_modules/{name}"]["version"]
        ):
            return False
    return True


@contextlib.contextmanager
def app_process(argv: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``argv`` (a server that prints ``listening PORT`` first), yield its base URL, stop it."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    try:
        port = _wait_for_port(proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _wait_for_port(proc: subprocess.Popen) -> int:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_S)
    text = line[0] if line else ""
    if not text.startswith("listening "):
        proc.kill()
        err = proc.stderr.read() if proc.stderr is not None and proc.poll() is not None else ""
        raise AppUnavailable(f"{proc.args[:2]} did not start: {text.strip()!r} {err.strip()[-400:]}")
    # keep draining both pipes so a chatty server never blocks on a full one (werkzeug writes an
    # access-log line per request to stderr: 64 KiB of them and every request thread waits)
    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=lambda s=stream: [None for _ in s], daemon=True).start()
    return int(text.split()[1])


@contextlib.contextmanager
def express_app(slow_ms: int = 2500, item_ms: int = 0) -> Iterator[str]:
    """The Express service (``/slow`` takes ``slow_ms``, ``/api/items/:id`` ``item_ms``; ``/health``) on a free port."""
    modules = express_modules()
    env = {"NODE_PATH": str(modules), "SLOW_MS": str(slow_ms), "ITEM_MS": str(item_ms)}
    with app_process(["node", str(EXPRESS / "server.js")], env=env) as base_url:
        yield base_url


def seed_orders(dsn: str, rows: int = 400_000) -> None:
    """``orders`` with ``rows`` rows (about 60 MB: more than a quarter of shared_buffers, so a
    sequential scan reads through a ring buffer) and no index on ``customer_email``."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, customer_email text NOT NULL, "
            "total numeric(10,2) NOT NULL, note text NOT NULL)"
        )
        conn.execute(
            "INSERT INTO orders (customer_email, total, note) SELECT 'customer' || g || '@example.com', "
            "g %% 500, repeat('x', 100) FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("ANALYZE orders")
        conn.execute("SELECT pg_stat_statements_reset()")


@contextlib.contextmanager
def flask_orders(dsn: str) -> Iterator[str]:
    """The Flask orders service over ``dsn`` (see tests/apps/flask_orders.py) on a free port."""
    with app_process([sys.executable, str(APPS / "flask_orders.py"), dsn]) as base_url:
        yield base_url


@contextlib.contextmanager
def ws_echo() -> Iterator[str]:
    """A WebSocket echo server in its own process; yields its ``ws://`` URL."""
    with app_process([sys.executable, str(APPS / "ws_echo.py")]) as base_url:
        yield "ws" + base_url.removeprefix("http") + "/"


@contextlib.contextmanager
def traffic(urls: list[str], concurrency: int, max_duration_s: float = 120.0) -> Iterator[subprocess.Popen]:
    """``concurrency`` clients requesting ``urls`` in turn, in a process of their own, until the
    block ends (or ``max_duration_s``, a bound should the block never end)."""
    argv = [
        sys.executable,
        str(APPS / "traffic.py"),
        "-c",
        str(concurrency),
        "-d",
        str(max_duration_s),
        *urls,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
