"""Real receivers on 127.0.0.1 for messages: aiosmtpd's SMTP server and a plain HTTP hook.

with smtp_inbox() as (port, inbox): ...      # inbox.mails: [(envelope recipients, EmailMessage)]
with http_receiver() as hooks: ...           # hooks.server_port, hooks.received: [{path, headers, json}]
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from perfbook.services import free_port


class Inbox:
    """aiosmtpd's handler: collects envelope recipients and the parsed message."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.mails.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


@contextlib.contextmanager
def smtp_inbox(**controller_args: Any) -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (port, inbox)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **controller_args)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


class Hooks(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.received: list[dict[str, Any]] = []


class _HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(
            {
                "path": self.path,
                "headers": dict(self.headers),  # type: ignore[attr-defined]
                "json": json.loads(body or b"null"),
            }
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_receiver() -> Iterator[Hooks]:
    """A real HTTP receiver on 127.0.0.1 that records every POST."""
    server = Hooks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
