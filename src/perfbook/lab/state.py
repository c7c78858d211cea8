"""Where the lab keeps its state, and the state itself (pids, ports, DSNs, admin token).

One directory per lab (default ``~/.local/state/perfbook/lab``, or ``$PERFBOOK_LAB_DIR``):

    state.json      this module's LabState (mode 0600: it holds the admin token)
    backend.json    the settings every backend worker reads (BackendSettings)
    faults.json     the fault switches every worker polls (see faultstate.py)
    perfbook.toml   the triage config pointing at this lab (see labconfig.py)
    logs/  metrics/  services/
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

STATE_DIR_ENV = "PERFBOOK_LAB_DIR"


def default_state_dir() -> Path:
    """``$PERFBOOK_LAB_DIR``, else ``$XDG_STATE_HOME/perfbook/lab`` (``~/.local/state/...``)."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "perfbook" / "lab"


def new_lab_id() -> str:
    """Four hex digits: short enough that ``pblab-<id>-api`` fits a 15-character process name."""
    return secrets.token_hex(2)


def process_tag(lab_id: str, role: str) -> str:
    """The tag a lab process carries in its name and argv: ``pblab-1a2b-api``."""
    return f"pblab-{lab_id}-{role}"


@dataclass
class ProcessState:
    """One process the supervisor started (its own session: ``pid`` is also the group id)."""

    pid: int
    role: str  # api | web | gen
    port: int | None = None


@dataclass
class LabState:
    """Everything ``lab down`` and ``lab status`` need, persisted as state.json."""

    lab_id: str
    state_dir: str
    admin_token: str
    app_dsn: str  # the backend's own role (codexos); triage reads with it too (pg_monitor)
    admin_dsn: str  # superuser or owner, for faults that need it
    redis_url: str  # db 0: the cache
    processes: dict[str, ProcessState] = field(default_factory=dict)
    postgres: dict | None = None  # services.PostgresServer.to_state() when the lab started it
    redis: dict | None = None  # services.RedisServer.to_state() when the lab started it
    started_at: float = 0.0

    @property
    def dir(self) -> Path:
        return Path(self.state_dir)

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.processes['api'].port}"

    @property
    def frontend_url(self) -> str:
        return f"http://127.0.0.1:{self.processes['web'].port}"

    @property
    def external_postgres(self) -> bool:
        """The PostgreSQL was given (``--postgres-dsn``): the lab owns its tables, not the server."""
        return self.postgres is None

    @property
    def external_redis(self) -> bool:
        return self.redis is None

    def save(self) -> None:
        """Write state.json atomically, readable by its owner only."""
        write_private_json(self.dir / "state.json", asdict(self))

    @classmethod
    def load(cls, state_dir: Path) -> LabState | None:
        """The saved state, or None when no lab was started from this directory."""
        try:
            raw = json.loads((state_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None
        raw["processes"] = {k: ProcessState(**v) for k, v in raw.get("processes", {}).items()}
        return cls(**raw)


@dataclass
class BackendSettings:
    """What a backend worker needs to know, written once by the supervisor as backend.json."""

    lab_id: str
    state_dir: str
    app_dsn: str
    admin_dsn: str
    redis_url: str
    admin_token: str
    pool_size: int = 5  # connections per worker; 2 workers -> 10 of max_connections 100
    frontend_origin: str = ""  # the page's origin, allowed to call the API from a browser (CORS)

    @classmethod
    def load(cls, path: Path) -> BackendSettings:
        return cls(**json.loads(path.read_text()))


def redis_dbs(cache_url: str) -> tuple[int, int]:
    """(cache db, WebSocket queue db) for a cache URL: the runbook's 0 and 1, else the next db up.

    >>> redis_dbs("redis://127.0.0.1:6379/0"), redis_dbs("redis://h:1/5"), redis_dbs("redis://h:1")
    ((0, 1), (5, 6), (0, 1))
    """
    path = urlsplit(cache_url).path.strip("/")
    cache_db = int(path) if path.isdigit() else 0
    return cache_db, cache_db + 1


def redis_db_url(cache_url: str, db: int) -> str:
    """``cache_url`` pointing at database ``db`` instead."""
    parts = urlsplit(cache_url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def write_private_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)
