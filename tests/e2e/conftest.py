"""One lab for the whole e2e session: full size, background traffic, free ports, its own state dir.

Scenarios run one after another against it; each switches its fault on and off again, so their
order does not matter. Triage runs as a user runs it: ``perfbook triage`` in a subprocess, with
the lab's perfbook.toml and no PERFBOOK_* variables that could point it elsewhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfbook import services
from perfbook.lab import client, labconfig, supervisor
from perfbook.lab.demo import triage_command, triage_env
from perfbook.lab.state import LabState

WINDOW = "3s"


@pytest.fixture(scope="session")
def lab() -> Iterator[LabState]:
    # Not under pytest's tmp tree: pytest re-makes /tmp/pytest-of-USER 0700 at every session start,
    # and the PostgreSQL user must reach its data directory.
    state_dir = Path(tempfile.mkdtemp(prefix="perfbook-e2e-lab-"))
    try:
        state = supervisor.up(supervisor.LabOptions(state_dir, port=0, frontend_port=0, traffic=True))
    except services.ServiceUnavailable as err:
        shutil.rmtree(state_dir, ignore_errors=True)
        if services.require_services():
            pytest.fail(f"required service could not start: {err}")
        pytest.skip(f"service not available here: {err}")
    try:
        client.wait_for_traffic(state, min_requests=60)
        yield state
    finally:
        supervisor.down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def triage(lab: LabState):
    """Run ``perfbook triage --json`` against the lab; the report as a dict."""

    def run(window: str = WINDOW) -> dict:
        cmd = triage_command(labconfig.config_path(lab), window, ["--json"])
        proc = subprocess.run(cmd, env=triage_env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


@pytest.fixture
def fault(lab: LabState):
    """Switch a fault on for one scenario; it is switched off again afterwards, whatever happened."""
    switched: list[str] = []

    def on(name: str, **params) -> None:
        switched.append(name)
        client.switch_fault(lab, name, True, params)

    yield on
    for name in switched:
        client.switch_fault(lab, name, False)
