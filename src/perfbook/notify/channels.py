"""Where messages go: SMTP e-mail, any apprise URL, and the status page's own record.

A channel has a ``name`` (``email``, the apprise scheme, ``status_page``), an ``audience``
(``internal`` gets everything, ``external`` only the status and customer texts), an ``identity``
free of secrets (for the idempotency key) and redacted ``recipients`` (for the record), and one
method, ``send``, that raises :class:`DeliveryError` with a one-line, redacted reason.

    chans = channels_from(cfg)            # [EmailChannel, AppriseChannel …, StatusPageChannel]
    chans[0].send(Outgoing("update", "internal", "[INC-7] …", "body"), key="INC-7:update:12:…")
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from perfbook.config import Config, EmailConfig
from perfbook.errors import ConfigError, PerfbookError
from perfbook.redact import redact_notify_url, redact_text


@dataclass(frozen=True)
class Outgoing:
    """One rendered message."""

    event: str  # detected | update | resolved | customer
    audience: str  # internal | external
    subject: str
    body: str


class DeliveryError(PerfbookError):
    """One attempt failed (the reason is one redacted line)."""


class Channel(Protocol):
    name: str
    audience: str
    identity: str

    def recipients(self, event: str) -> list[str]: ...

    def send(self, msg: Outgoing, key: str) -> None: ...


class EmailChannel:
    """The runbook's ``mail -s … -c …`` lines over SMTP (smtplib), routed per event."""

    name = "email"
    audience = "internal"

    def __init__(self, cfg: EmailConfig, env: Mapping[str, str] | None = None) -> None:
        self.cfg = cfg
        self.env = os.environ if env is None else env
        self.identity = f"email:{cfg.smtp_host}:{cfg.smtp_port}"
        if cfg.password_env and cfg.password_env not in self.env:
            raise ConfigError(
                f"[notify.email] password_env: {cfg.password_env} is not set",
                hint=f"export {cfg.password_env}=…, or leave password_env empty for no login",
            )

    def recipients(self, event: str) -> list[str]:
        to, cc = self.cfg.recipients(event)
        return [*to, *(f"cc:{a}" for a in cc)]

    def send(self, msg: Outgoing, key: str) -> None:
        to, cc = self.cfg.recipients(msg.event)
        if not to and not cc:
            raise DeliveryError(
                f"no recipients for {msg.event} (set [notify.email] to, or routes.{msg.event})"
            )
        mail = EmailMessage()
        mail["From"], mail["Subject"], mail["Date"] = self.cfg.sender, msg.subject, formatdate(usegmt=True)
        if to:
            mail["To"] = ", ".join(to)
        if cc:
            mail["Cc"] = ", ".join(cc)
        # the same key gives the same Message-ID: a duplicate that slips through is one thread entry
        mail["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@perfbook>"
        mail.set_content(msg.body)
        try:
            with self._connect() as smtp:
                if self.cfg.user:
                    smtp.login(self.cfg.user, self.env.get(self.cfg.password_env, ""))
                smtp.send_message(mail, to_addrs=[*to, *cc])
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryError(f"smtp {self.cfg.smtp_host}:{self.cfg.smtp_port}: {_reason(err)}") from None

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.cfg.smtp_host, self.cfg.smtp_port, self.cfg.timeout_s
        if self.cfg.ssl:
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls())
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if self.cfg.starttls:
            try:
                smtp.starttls(context=self._tls())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _tls(self) -> ssl.SSLContext:
        """Certificates are always verified: against ``ca_file`` when set, else the system's CAs."""
        try:
            return ssl.create_default_context(cafile=self.cfg.ca_file or None)
        except (OSError, ssl.SSLError) as err:
            raise DeliveryError(f"[notify.email] ca_file {self.cfg.ca_file}: {_reason(err)}") from None


class AppriseChannel:
    """Any apprise URL (Slack, Teams, Mattermost, Discord, ``json://`` web hooks, ``mailto://`` …)."""

    def __init__(self, url: str, audience: str) -> None:
        try:
            import apprise
        except ImportError:
            raise ConfigError("[notify] urls need apprise: pip install 'perfbook[notify]'") from None
        self.url = url
        self.audience = audience
        self.name = url.split("://", 1)[0].lower() if "://" in url else "apprise"
        self.identity = "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ConfigError(
                f"[notify] not an apprise URL apprise can use: {redact_notify_url(url)}",
                hint="see the apprise wiki for each service's URL form",
            )

    def recipients(self, event: str) -> list[str]:
        return [redact_notify_url(self.url)]

    def send(self, msg: Outgoing, key: str) -> None:
        import apprise

        with apprise.LogCapture(level=apprise.logging.WARNING) as log:
            ok = self._apprise.notify(title=msg.subject, body=msg.body, body_format=apprise.NotifyFormat.TEXT)
            captured = log.getvalue()
        if not ok:
            lines = [line for line in captured.splitlines() if line.strip()]
            raise DeliveryError(f"{self.name}: {_reason_text(lines[-1] if lines else 'not delivered')}")


class StatusPageChannel:
    """The status page's public updates: the external text is kept in the store; the page reads it."""

    name = "status_page"
    audience = "external"
    identity = "status_page"

    def recipients(self, event: str) -> list[str]:
        return ["status page"]

    def send(self, msg: Outgoing, key: str) -> None:
        """Nothing to do here: the delivery record (with the text) is the publication."""


def channels_from(cfg: Config, env: Mapping[str, str] | None = None) -> list[Channel]:
    """Every configured channel, then the status page's record (always: ``status build`` reads it)."""
    out: list[Channel] = []
    if cfg.notify.email.smtp_host:
        out.append(EmailChannel(cfg.notify.email, env))
    out += [AppriseChannel(url, "internal") for url in cfg.notify.urls]
    out += [AppriseChannel(url, "external") for url in cfg.notify.external_urls]
    out.append(StatusPageChannel())
    return out


def _reason(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        text = (
            err.smtp_error.decode(errors="replace")
            if isinstance(err.smtp_error, bytes)
            else str(err.smtp_error)
        )
        return _reason_text(f"{err.smtp_code} {text}")
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(err.recipients)
    return _reason_text(getattr(err, "strerror", None) or str(err) or type(err).__name__)


def _reason_text(text: str) -> str:
    return redact_text(" ".join(text.split()))[:200]
