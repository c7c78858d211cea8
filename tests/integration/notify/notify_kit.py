"""Helpers of the notification tests: recorded lab triages and aiosmtpd's inbox handler."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "causes"


def lab_report(name: str) -> dict[str, Any]:
    """A triage report recorded against the lab with fault ``name`` on."""
    return json.loads((FIXTURES / f"lab_{name}.json").read_text())


class Inbox:
    """Collects what aiosmtpd's server receives: envelope recipients and the parsed message."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.mails.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


