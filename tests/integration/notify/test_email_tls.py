"""STARTTLS and SMTPS against aiosmtpd with a certificate made for the test; verification is never off."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from lab_recordings import lab_report
from perfbook.config import Config
from perfbook.incidents import records
from perfbook.notify.send import notify
from receivers import smtp_inbox


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), and its key."""
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "server.crt", d / "server.key"
    proc = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {proc.stderr.strip()[:200]}")
    return crt, key


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def _cfg(port: int, **tls) -> Config:
    return Config.model_validate(
        {
            "notify": {
                "attempts": 1,
                "email": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "to": ["performance@example.com"],
                    "timeout_s": 5,
                    **tls,
                },
            }
        }
    )


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_delivers_with_the_configured_ca_and_refuses_without_it(tmp_path: Path, cert, mode: str) -> None:
    from perfbook.store import Store

    server = (
        {"tls_context": _server_context(cert), "require_starttls": True}
        if mode == "starttls"
        else {"server_hostname": "127.0.0.1", "ssl_context": _server_context(cert)}
    )
    store = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    try:
        inc = records.open_incident(
            store, title="slow", actor="ana", severity="P2", report=lab_report("slow")
        )
        with smtp_inbox(**server) as (port, inbox):
            untrusted = notify(store, _cfg(port, **{mode: True}), inc.number, "detected", actor="ana")
            trusted = notify(
                store,
                _cfg(port, **{mode: True, "ca_file": str(cert[0])}),
                inc.number,
                "detected",
                actor="ana",
            )
    finally:
        store.close()
    (refused,) = [d for d in untrusted.deliveries if d.channel == "email"]
    assert refused.outcome == "failed" and "certificate verify failed" in refused.error.lower()
    (sent,) = [d for d in trusted.deliveries if d.channel == "email"]
    assert sent.outcome == "sent" and len(inbox.mails) == 1
    assert inbox.mails[0][1]["Subject"].startswith("[INC-1] P2")
