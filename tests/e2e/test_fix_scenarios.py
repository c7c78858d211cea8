"""End-to-end: the loop the runbook promises, on the lab. A fault on, triage names it, ``perfbook fix
--from-report --apply --yes`` performs the recommended fix, the next triage is clean of it, and the
audit log tells the story with before / after. Reuses the e2e session lab (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from perfbook.lab import labconfig
from perfbook.lab.demo import triage_command, triage_env
from perfbook.lab.state import LabState

pytestmark = pytest.mark.e2e


@pytest.fixture
def lab_config(lab: LabState, tmp_path: Path) -> Path:
    """The lab's perfbook.toml with a private audit store."""
    path = tmp_path / "perfbook.toml"
    path.write_text(
        labconfig.config_path(lab).read_text() + f'\n[store]\nurl = "sqlite:///{tmp_path}/audit.db"\n'
    )
    return path


def perfbook(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perfbook", *args],
        env=triage_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def triage(config: Path, tmp_path: Path, name: str) -> tuple[dict, Path]:
    proc = subprocess.run(
        triage_command(config, "3s", ["--json"]), env=triage_env(), capture_output=True, text=True, timeout=90
    )
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / f"{name}.json"
    path.write_text(proc.stdout)
    return json.loads(proc.stdout), path


def keys(report: dict, code: str) -> list[str]:
    return [f"{f['code']}:{f['subject']}" for f in report["findings"] if f["code"] == code]


def apply_from_report(config: Path, report: Path) -> dict:
    proc = perfbook(
        "fix",
        "--from-report",
        str(report),
        "--apply",
        "--yes",
        "--window",
        "3s",
        "--json",
        "--config",
        str(config),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_lock_holder_terminated_from_the_report(
    lab: LabState, fault, lab_config: Path, tmp_path: Path
) -> None:
    fault("lock")
    time.sleep(4.0)  # the traffic's writes queue up behind the holder
    before, path = triage(lab_config, tmp_path, "before")
    assert keys(before, "pg.blocked_queries"), [f["code"] for f in before["findings"]]
    result = apply_from_report(lab_config, path)
    done = [r for r in result["results"] if r["action"] == "pg.terminate"]
    assert done and done[0]["outcome"]["status"] == "done", result
    after, _ = triage(lab_config, tmp_path, "after")
    assert keys(after, "pg.blocked_queries") == []
    history = json.loads(perfbook("fix", "history", "--json", "--config", str(lab_config)).stdout)["entries"]
    assert ("pg.terminate", "done") in [(e["action"], e["outcome"]) for e in history]


def test_missing_index_created_from_the_report(
    lab: LabState, fault, lab_config: Path, tmp_path: Path
) -> None:
    fault("seqscan")
    time.sleep(3.0)  # e-mail searches scan the table under the background traffic
    before, path = triage(lab_config, tmp_path, "before")
    assert keys(before, "pg.missing_index") == ["pg.missing_index:public.users"], before["findings"]
    created: list[str] = []
    try:
        result = apply_from_report(lab_config, path)
        index = next(r for r in result["results"] if r["action"] == "pg.create_index")
        assert index["outcome"]["status"] == "done", index
        created += re.findall(r'CREATE INDEX CONCURRENTLY "([^"]+)"', " ".join(index["plan"]["steps"]))
        assert created, index["plan"]["steps"]
        time.sleep(2.0)
        after, _ = triage(lab_config, tmp_path, "after")
        assert keys(after, "pg.missing_index") == [], after["findings"]
        mean = lambda r: r["kpis"]["db_query_mean_ms"]  # noqa: E731
        assert mean(after) is not None and mean(before) is not None and mean(after) < mean(before)
    finally:  # the fault's "off" recreates the lab's own index: drop ours so no duplicate is left
        with psycopg.connect(lab.admin_dsn, autocommit=True) as conn:
            for name in created:
                conn.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
