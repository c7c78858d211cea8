"""Helpers of the notification tests: recorded lab triages and aiosmtpd's inbox handler."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from lab_recordings import lab_report

__all__ = ["Inbox", "lab_report"]


class Inbox:
    """Collects what aiosmtpd's server receives: envelope recipients and the parsed message."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.mails.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


