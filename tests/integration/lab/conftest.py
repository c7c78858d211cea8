"""A lab for the lab's integration tests: one per module, on free ports, in a temporary state dir."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfbook import services
from perfbook.lab import supervisor
from perfbook.lab.state import LabState

SMALL_USERS = 20_000  # enough for an index to matter, quick to seed


def start_lab(state_dir: Path, **options) -> LabState:
    """``supervisor.up`` on free ports; skips (or fails in CI) when the servers cannot start."""
    try:
        return supervisor.up(supervisor.LabOptions(state_dir, port=0, frontend_port=0, **options))
    except services.ServiceUnavailable as err:
        if services.require_services():
            pytest.fail(f"required service could not start: {err}")
        pytest.skip(f"service not available here: {err}")


def lab_dir() -> Path:
    """A fresh state directory outside pytest's tmp tree: pytest re-makes /tmp/pytest-of-USER 0700
    whenever a session starts, and the PostgreSQL user must be able to reach its data directory."""
    return Path(tempfile.mkdtemp(prefix="perfbook-lab-test-"))


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    """A running lab without background traffic (tests send their own requests)."""
    state_dir = lab_dir()
    state = start_lab(state_dir, users=SMALL_USERS)
    yield state
    supervisor.down(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """An empty lab state directory; any lab started in it is stopped afterwards."""
    path = lab_dir()
    yield path
    supervisor.down(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def closed_port_url() -> str:
    """A PostgreSQL URL (with a password to redact) where nothing listens."""
    return f"postgresql://lab:s3cret@127.0.0.1:{services.free_port()}/db"
