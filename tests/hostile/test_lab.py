"""The lab is private (#12): no connection without a password, no password in its config or on a command line."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from hostile import Run, perfbook


@pytest.fixture(scope="module")
def lab():
    state_dir = Path(tempfile.mkdtemp(prefix="perfbook-hostile-lab-"))  # the postgres user must reach it
    up = perfbook("lab", "up", "--port", "0", "--frontend-port", "0", "--dir", str(state_dir), timeout_s=180)
    if up.code != 0:
        shutil.rmtree(state_dir, ignore_errors=True)
        pytest.skip(f"the lab did not start: {up.stderr.strip()[-200:]}")
    state = json.loads((state_dir / "state.json").read_text())
    yield state_dir, state
    perfbook("lab", "down", "--dir", str(state_dir), timeout_s=120)
    shutil.rmtree(state_dir, ignore_errors=True)


def _as_run(what: str, problem: str | None) -> Run:
    return Run((what,), 1 if problem else 0, "", problem or "", 0.0)


def test_postgres_refuses_a_connection_without_password(attempt, lab):
    _, state = lab
    port = urlsplit(state["app_dsn"]).port

    def refused() -> str | None:
        for user in ("postgres", "codexos"):
            try:
                psycopg.connect(
                    host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=5
                ).close()
            except psycopg.OperationalError:
                continue
            return f"{user} connected without a password"
        return None

    attempt.check(_as_run("psql without password", None), codes={0}, verify=[refused])


def test_redis_refuses_a_client_without_password(attempt, lab):
    _, state = lab

    def refused() -> str | None:
        try:
            redis.Redis(host="127.0.0.1", port=urlsplit(state["redis_url"]).port, socket_timeout=5).set(
                "x", 1
            )
        except redis.RedisError:
            return None
        return "a write without a password was accepted"

    attempt.check(_as_run("redis without password", None), codes={0}, verify=[refused])


def test_no_password_in_the_lab_config_or_on_a_command_line(attempt, lab):
    state_dir, state = lab
    secrets = [p for p in (urlsplit(state[k]).password for k in ("app_dsn", "redis_url")) if p]
    config = perfbook("lab", "config", "--dir", str(state_dir))
    path = Path(config.stdout.strip())

    def nowhere() -> str | None:
        if len(secrets) < 2:
            return "the lab has no passwords"
        argv = []
        for pid in os.listdir("/proc"):
            try:
                argv.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
        return "a password on a command line" if any(s in a for s in secrets for a in argv) else None

    triage = perfbook(
        "triage",
        "--config",
        str(path),
        "--only",
        "postgres,redis",
        "--window",
        "0.5s",
        "--json",
        "--fail-on",
        "never",
    )
    outcomes = [
        attempt.judge(config, codes={0}, files=[path], secrets=secrets, verify=[nowhere]),
        attempt.judge(
            triage,
            codes={0},
            secrets=secrets,
            verify=[
                lambda: (
                    None
                    if all(p["status"] == "ok" for p in triage.json["probes"].values())
                    else "the lab config fails"
                )
            ],
        ),
    ]
    assert set(outcomes) <= {"correct"}, outcomes  # two attempts, both counted
