"""The lab is private (#12): password auth on its PostgreSQL and Redis, secrets in 0600 files only."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from perfbook.config import load_config
from perfbook.lab import credentials, labconfig
from perfbook.lab.state import LabState


def _passwords(lab: LabState) -> list[str]:
    found = [
        urlsplit(lab.app_dsn).password,
        urlsplit(lab.admin_dsn).password,
        urlsplit(lab.redis_url).password,
    ]
    assert all(found) and len(set(found)) == 3, "three generated passwords"
    return found


def test_postgres_needs_a_password_over_tcp_and_the_socket(lab: LabState) -> None:
    parts = urlsplit(lab.app_dsn)
    for user in ("postgres", "codexos"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                host="127.0.0.1", port=parts.port, user=user, dbname="postgres", connect_timeout=5
            )
        with pytest.raises(psycopg.OperationalError, match="password"):  # the socket is not trust either
            psycopg.connect(
                host=lab.postgres["base_dir"],
                port=parts.port,
                user=user,
                dbname="postgres",
                connect_timeout=5,
            )
    with psycopg.connect(lab.app_dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("codexos",)
    with psycopg.connect(lab.admin_dsn, connect_timeout=5) as conn:
        assert conn.execute(
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'codexos'"
        ).fetchone() == (True,)
        assert {r[0] for r in conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules")} == {
            "scram-sha-256"
        }


def test_redis_needs_its_password(lab: LabState) -> None:
    parts = urlsplit(lab.redis_url)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=parts.port, socket_timeout=5).ping()
    assert redis.Redis.from_url(lab.redis_url, socket_timeout=5).ping()


def test_secrets_are_in_0600_files_and_never_in_the_config_or_argv(lab: LabState) -> None:
    state_dir = Path(lab.state_dir)
    for name in ("state.json", "backend.json", credentials.SECRETS_FILE):
        assert stat.S_IMODE((state_dir / name).stat().st_mode) == 0o600, name
    assert not stat.S_IMODE(state_dir.stat().st_mode) & 0o066  # nobody else lists or writes it
    config = labconfig.config_path(lab)
    if not config.exists():
        labconfig.write(lab)
    text = config.read_text()
    secrets = _passwords(lab)
    assert not [s for s in secrets if s in text]
    assert "${PERFBOOK_LAB_POSTGRES_DSN}" in text and "${PERFBOOK_LAB_REDIS_URL}" in text
    cfg = load_config(config, env={})  # the references resolve through env_file
    assert cfg.postgres.dsn == lab.app_dsn and cfg.redis.url == lab.redis_url
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            assert not [s for s in secrets if s in argv], f"a password on the command line of pid {pid}"


def test_triage_of_the_lab_works_through_its_config(perfbook, lab: LabState) -> None:
    path = perfbook("lab", "config", "--dir", lab.state_dir).stdout.strip()
    res = perfbook(
        "triage",
        "--config",
        path,
        "--only",
        "postgres,redis",
        "--window",
        "0.5s",
        "--json",
        "--fail-on",
        "never",
        env={k: None for k in os.environ if k.startswith("PERFBOOK_")},
    )
    assert res.exit_code == 0, res.stderr
    assert {n: p["status"] for n, p in res.json["probes"].items()} == {"postgres": "ok", "redis": "ok"}
    assert not [s for s in _passwords(lab) if s in res.stdout + res.stderr]
