"""End-to-end: the lab's database and cache faults under traffic, each named by triage with its code,
level, subject and issue type (the PostgreSQL / Redis probes, issue #4). Reuses the session lab.

Expectations are docs/lab.md's fault table. ``idle_tx`` is judged with idle_in_transaction_s = 5
(the 60 s default cannot be waited for in a test); ``nocache`` with an 8 s window, since the hit
rate is judged only from 100 lookups and the lab's traffic is light.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from perfbook.lab import labconfig
from perfbook.lab.demo import triage_command, triage_env
from perfbook.lab.state import LabState
from perfbook.report.json import validate_report

pytestmark = pytest.mark.e2e

# fault -> (code, acceptable levels, subject (None: any), settle s, window)
SCENARIOS = {
    "seqscan": ("pg.missing_index", {"warning", "critical"}, "public.users", 2.0, "3s"),
    "lock": ("pg.blocked_queries", {"critical"}, None, 4.0, "3s"),
    "idle_tx": ("pg.idle_in_transaction", {"warning"}, None, 6.0, "3s"),
    "pool": ("pg.connections_saturated", {"critical"}, None, 1.0, "3s"),
    "bloat": ("pg.dead_tuples", {"warning"}, "public.agents", 1.0, "3s"),
    "nocache": ("redis.hit_rate_low", {"warning"}, None, 1.0, "8s"),
    "redis_full": ("redis.oom_rejections", {"critical"}, None, 3.0, "3s"),
}
ISSUE_TYPE = {"pg": "database", "redis": "cache"}


@pytest.fixture
def triage_db(lab: LabState, tmp_path: Path):
    config = tmp_path / "perfbook.toml"
    config.write_text(labconfig.config_path(lab).read_text() + "\n[thresholds]\nidle_in_transaction_s = 5\n")

    def run(window: str) -> dict:
        proc = subprocess.run(
            triage_command(config, window, ["--json"]),
            env=triage_env(),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        validate_report(report)
        return report

    return run


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_is_named_with_its_code_level_and_issue_type(fault, triage_db, name: str) -> None:
    code, levels, subject, settle_s, window = SCENARIOS[name]
    fault(name)
    time.sleep(settle_s)
    report = triage_db(window)
    found = [f for f in report["findings"] if f["code"] == code]
    seen = [(f["code"], f["level"], f["subject"]) for f in report["findings"]]
    assert found, (
        f"{name}: no {code} in {seen} (probes: { {k: p['status'] for k, p in report['probes'].items()} })"
    )
    f = found[0]
    assert f["level"] in levels, seen
    assert subject is None or f["subject"] == subject, seen
    assert f["evidence"] and f["actions"] and all(a["manual"] for a in f["actions"])
    assert ISSUE_TYPE[code.split(".")[0]] in report["issue_types"]
