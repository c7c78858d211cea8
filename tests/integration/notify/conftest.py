"""Real receivers on 127.0.0.1 for the notification tests: aiosmtpd's SMTP server and an HTTP hook.

Plus a store on a temp SQLite file and an incident opened from a recorded lab triage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from notify_kit import Inbox, lab_report

from perfbook.incidents import records
from perfbook.services import free_port
from perfbook.store import Store


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (port, inbox)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


class _Hooks(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.received: list[dict[str, Any]] = []


class _HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.server.received.append({"path": self.path, "headers": dict(self.headers),  # type: ignore[attr-defined]
                                     "json": json.loads(body or b"null")})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[_Hooks]:
    """A real HTTP receiver on 127.0.0.1 (``.server_port``, ``.received``)."""
    server = _Hooks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    yield s
    s.close()


@pytest.fixture
def lab_incident(store: Store):
    """An incident opened from the lab's ``slow`` triage, as ``incident open --from-report`` does."""
    return records.open_incident(store, title="Agents API slow", actor="ana", severity="P2", report=lab_report("slow"))
