"""Private PostgreSQL and Redis servers on free ports — the ONE module the lab and the tests share.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` OS user (via
``runuser``) on a directory it owns. Both servers listen on 127.0.0.1 only and keep their data
under a directory of their own, removed by :meth:`stop`.

    pg = start_postgres()                      # pg_stat_statements preloaded
    dsn = pg.dsn("postgres")
    rd = start_redis(extra_args=["--enable-debug-command", "local"])
    ...
    rd.stop(); pg.stop()

A missing binary raises :class:`ServiceUnavailable` with the package to install.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from perfbook.errors import PerfbookError

PG_SETTINGS: dict[str, str] = {
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "top",  # not the statements nested inside CREATE EXTENSION
    "max_connections": "100",
    "fsync": "off",  # private, throw-away data: durability buys nothing here
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
}


class ServiceUnavailable(PerfbookError):
    """A private server could not be started (missing binaries, or it failed to come up)."""


def require_services() -> bool:
    """True in CI (``CI=true``) or with ``PERFBOOK_REQUIRE_SERVICES=1``: a missing server fails, not skips."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PERFBOOK_REQUIRE_SERVICES") == "1"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout_s: float = 15.0) -> None:
    """Poll until ``host:port`` accepts a TCP connection; ServiceUnavailable after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def postgres_bin_dir() -> Path:
    """The directory of initdb / pg_ctl: the newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServiceUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found",
        hint="install them: apt-get install -y postgresql (Debian) or set PATH",
    )


def _run_as() -> str | None:
    """The OS user to run PostgreSQL as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable(
            "running as root and there is no 'postgres' OS user to run PostgreSQL as"
        ) from None
    return "postgres"


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@dataclass
class PostgresServer:
    """A running private PostgreSQL. ``superuser`` connects over 127.0.0.1 with ``password``
    (scram-sha-256), or with trust auth when the server was started without one (tests)."""

    base_dir: str
    port: int
    bin_dir: str
    os_user: str | None
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    password: str | None = None  # the superuser's; None: trust auth

    @property
    def data_dir(self) -> Path:
        return Path(self.base_dir) / "data"

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq URL for ``dbname`` as ``user`` (default the superuser, with its password)."""
        if user is None or user == self.superuser:
            user, password = self.superuser, password or self.password
        secret = f":{quote(password, safe='')}" if password else ""
        return f"postgresql://{user}{secret}@{self.host}:{self.port}/{dbname}"

    def running(self) -> bool:
        """True when the postmaster answers ``pg_ctl status``."""
        cmd = _as_user([f"{self.bin_dir}/pg_ctl", "-D", str(self.data_dir), "status"], self.os_user)
        return subprocess.run(cmd, capture_output=True).returncode == 0

    def stop(self, remove: bool = True) -> None:
        """Stop the server now (immediate mode: its data is throw-away) and remove its directory."""
        cmd = _as_user(
            [f"{self.bin_dir}/pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
            self.os_user,
        )
        subprocess.run(cmd, capture_output=True, timeout=60)
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def to_state(self) -> dict:
        return asdict(self)


def start_postgres(
    parent: Path | None = None,
    *,
    port: int | None = None,
    settings: dict[str, str] | None = None,
    password: str | None = None,
) -> PostgresServer:
    """initdb + pg_ctl start a private server on 127.0.0.1 (a free port unless given).

    ``settings`` are added to (and override) :data:`PG_SETTINGS`. With ``password`` every
    connection, TCP or socket, needs a password (scram-sha-256) and the superuser's is that one;
    without, trust auth (the tests' throw-away servers). The password never goes on a command line.
    """
    bin_dir = postgres_bin_dir()
    user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="perfbook-pg-", dir=parent))
    base.chmod(0o755)
    if user:
        shutil.chown(base, user=user)
        _make_traversable(base)
    server = PostgresServer(str(base), port or free_port(), str(bin_dir), user, password=password)
    init = [
        f"{bin_dir}/initdb",
        "-D",
        str(server.data_dir),
        "-U",
        server.superuser,
        "-E",
        "UTF8",
        "--no-sync",
        "--locale=C",
        *_auth_args(base, password, user),
    ]
    try:
        _checked(_as_user(init, user), "initdb")
    finally:
        (base / "pwfile").unlink(missing_ok=True)
    conf = {
        **PG_SETTINGS,
        **(settings or {}),
        "port": str(server.port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{base}'",
    }
    with open(server.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write("\n# perfbook private server\n")
        fh.writelines(f"{k} = {v}\n" for k, v in conf.items())
    start = [
        f"{bin_dir}/pg_ctl",
        "-D",
        str(server.data_dir),
        "-l",
        str(base / "postgres.log"),
        "-w",
        "-t",
        "60",
        "start",
    ]
    try:
        _checked(_as_user(start, user), "pg_ctl start", log=base / "postgres.log")
    except ServiceUnavailable:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


def _auth_args(base: Path, password: str | None, os_user: str | None) -> list[str]:
    """initdb's auth options: trust, or scram-sha-256 everywhere with the superuser's password in a
    0600 file only its OS user reads (removed right after initdb)."""
    if password is None:
        return ["-A", "trust"]
    pwfile = base / "pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if os_user:
        shutil.chown(pwfile, user=os_user)
    return ["--auth-host=scram-sha-256", "--auth-local=scram-sha-256", f"--pwfile={pwfile}"]


def _make_traversable(path: Path) -> None:
    """Let the postgres user reach ``path``: every parent directory needs the x bit for others."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _checked(cmd: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        if log and log.exists():
            detail += log.read_text(errors="replace").strip().splitlines()[-3:]
        raise ServiceUnavailable(
            f"{what} failed: {' | '.join(detail[-3:]) or 'exit ' + str(proc.returncode)}"
        )


@dataclass
class RedisServer:
    """A running private redis-server (daemonized, with a pidfile); ``password``: its requirepass."""

    base_dir: str
    port: int
    host: str = "127.0.0.1"
    password: str | None = None

    def url(self, db: int = 0) -> str:
        secret = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{secret}{self.host}:{self.port}/{db}"

    @property
    def pidfile(self) -> Path:
        return Path(self.base_dir) / "redis.pid"

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def stop(self, remove: bool = True) -> None:
        """SIGTERM the server, wait for it to go, and remove its directory."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def to_state(self) -> dict:
        return asdict(self)


def start_redis(
    parent: Path | None = None,
    *,
    port: int | None = None,
    extra_args: list[str] | None = None,
    password: str | None = None,
) -> RedisServer:
    """Start ``redis-server`` on 127.0.0.1 (a free port unless given), persisting nothing.

    With ``password`` it is the server's ``requirepass``, read from a 0600 config file (never argv).
    """
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if not binary:
        raise ServiceUnavailable("redis-server not found", hint="install it: apt-get install -y redis-server")
    base = Path(tempfile.mkdtemp(prefix="perfbook-redis-", dir=parent))
    server = RedisServer(str(base), port or free_port(), password=password)
    conf = []
    if password is not None:
        conf_path = base / "redis.conf"
        fd = os.open(conf_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"requirepass {password}\n")
        conf = [str(conf_path)]
    cmd = [
        binary,
        *conf,
        "--port",
        str(server.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(base),
        "--daemonize",
        "yes",
        "--pidfile",
        str(server.pidfile),
        "--logfile",
        str(base / "redis.log"),
        *(extra_args or []),
    ]
    _checked(cmd, "redis-server", log=base / "redis.log")
    try:
        wait_for_port(server.host, server.port)
    except ServiceUnavailable:
        server.stop()
        raise
    return server


@dataclass
class PgbouncerServer:
    """A running private PgBouncer in front of a private PostgreSQL (trust auth, admin user
    ``postgres``), its ini and log in ``base_dir``. ``dsn(db)`` goes through it; ``admin_dsn()``
    reaches its admin console (the ``pgbouncer`` virtual database)."""

    base_dir: str
    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def admin_dsn(self) -> str:
        return self.dsn("pgbouncer")

    @property
    def pidfile(self) -> Path:
        return Path(self.base_dir) / "pgbouncer.pid"

    def stop(self, remove: bool = True) -> None:
        """SIGTERM PgBouncer (its clients are dropped), wait for it to go, remove its directory."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def start_pgbouncer(
    pg: PostgresServer,
    *,
    pool_mode: str = "session",
    settings: dict[str, str] | None = None,
    parent: Path | None = None,
) -> PgbouncerServer:
    """PgBouncer as the Debian package ships it (``ignore_startup_parameters`` empty), on a free port of
    127.0.0.1, every database (``*``) forwarded to ``pg``; ``settings`` go into its [pgbouncer] section.
    Run as the ``postgres`` OS user when root (PgBouncer refuses to run as root)."""
    binary = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
    )
    if not binary:
        raise ServiceUnavailable("pgbouncer not found", hint="install it: apt-get install -y pgbouncer")
    user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="perfbook-pgbouncer-", dir=parent))
    server = PgbouncerServer(str(base), free_port(), user=pg.superuser)
    conf = {
        "listen_addr": "127.0.0.1",
        "listen_port": str(server.port),
        "unix_socket_dir": "",
        "auth_type": "trust",
        "auth_file": str(base / "userlist.txt"),
        "admin_users": pg.superuser,
        "pool_mode": pool_mode,
        "logfile": str(base / "pgbouncer.log"),
        "pidfile": str(server.pidfile),
        **(settings or {}),
    }
    (base / "userlist.txt").write_text(f'"{pg.superuser}" ""\n')
    (base / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={pg.host} port={pg.port}\n\n[pgbouncer]\n"
        + "".join(f"{k} = {v}\n" for k, v in conf.items())
    )
    if user:
        _make_traversable(base)
        for path in (base, *base.iterdir()):
            shutil.chown(path, user=user)
    _checked(
        _as_user([binary, "-d", str(base / "pgbouncer.ini")], user), "pgbouncer", log=base / "pgbouncer.log"
    )
    try:
        wait_for_port(server.host, server.port)
    except ServiceUnavailable:
        server.stop()
        raise
    return server
