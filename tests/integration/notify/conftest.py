"""Fixtures of the notification tests: real receivers on 127.0.0.1, a store, a lab incident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab_recordings import lab_report
from perfbook.incidents import records
from perfbook.store import Store
from receivers import Hooks, Inbox, http_receiver, smtp_inbox


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (port, inbox)."""
    with smtp_inbox() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[Hooks]:
    """A real HTTP receiver on 127.0.0.1 (``.server_port``, ``.received``)."""
    with http_receiver() as hooks:
        yield hooks


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    yield s
    s.close()


@pytest.fixture
def lab_incident(store: Store):
    """An incident opened from the lab's ``slow`` triage, as ``incident open --from-report`` does."""
    return records.open_incident(
        store, title="Agents API slow", actor="ana", severity="P2", report=lab_report("slow")
    )
