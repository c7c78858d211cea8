"""The lab's generated credentials, kept out of its perfbook.toml and off every command line.

``lab up`` starts PostgreSQL with scram-sha-256 for every connection and Redis with a
``requirepass``, both with passwords generated here. They live in the lab's state directory:
``state.json`` and ``backend.json`` (0600, for the lab's own processes) and ``secrets.env``
(0600), which the generated perfbook.toml names as its ``env_file`` and refers to by variable:

    env_file = "/root/.local/state/perfbook/lab/secrets.env"
    [postgres]
    dsn = "${PERFBOOK_LAB_POSTGRES_DSN}"

so ``perfbook triage --config "$(perfbook lab config)"`` works and no password is in the file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRETS_FILE = "secrets.env"
POSTGRES_VAR = "PERFBOOK_LAB_POSTGRES_DSN"
REDIS_VAR = "PERFBOOK_LAB_REDIS_URL"
HOLDER_DSN_VAR = "PERFBOOK_LAB_HOLDER_DSN"  # how a fault holder gets its DSN: the environment, not argv


def new_password() -> str:
    """32 hex digits: 128 random bits, and nothing a URL or a DSN would need to escape."""
    return secrets.token_hex(16)


def secrets_path(state_dir: Path) -> Path:
    return Path(state_dir) / SECRETS_FILE


def write_secrets(state_dir: Path, postgres_dsn: str, redis_url: str) -> Path:
    """Write ``secrets.env`` (0600, atomically): the DSN and URL the lab's perfbook.toml refers to."""
    path = secrets_path(state_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# the lab's connection secrets (perfbook lab up); its perfbook.toml refers to them\n")
        fh.write(f"{POSTGRES_VAR}={postgres_dsn}\n{REDIS_VAR}={redis_url}\n")
    os.replace(tmp, path)
    return path
