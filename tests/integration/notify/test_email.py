"""E-mail through a real SMTP server (aiosmtpd): the runbook's routing, subjects, content, once per event."""

from __future__ import annotations

from perfbook.config import Config
from perfbook.incidents import records
from perfbook.notify.send import notify
from perfbook.store import Store

PERF, OPS, DEV = "performance@example.com", "ops@example.com", "dev@example.com"


def runbook_config(port: int, **email) -> Config:
    """The runbook's routing: detected / resolved to performance@ with ops@ and dev@ in copy; updates with ops@."""
    return Config.model_validate(
        {
            "notify": {
                "email": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "from": "perfbook@example.com",
                    "to": [PERF],
                    "cc": [OPS, DEV],
                    "routes": {"update": {"cc": [OPS]}},
                    **email,
                }
            }
        }
    )


def test_detected_update_resolved_follow_the_runbooks_routing(smtp_server, store, lab_incident) -> None:
    port, inbox = smtp_server
    cfg = runbook_config(port)
    number = lab_incident.number
    notify(store, cfg, number, "detected", actor="ana")
    records.add_note(store, number, "index on agents dropped by the 10:00 migration", actor="ana")
    notify(store, cfg, number, "update", actor="ana", message="Creating the index now.")
    records.resolve(store, number, actor="ana")
    notify(store, cfg, number, "resolved", actor="ana")

    assert len(inbox.mails) == 3
    (rcpt1, detected), (rcpt2, update), (rcpt3, resolved) = inbox.mails
    for mail in (detected, update, resolved):
        assert mail["From"] == "perfbook@example.com" and mail["To"] == PERF
        assert "INC-1" in mail["Subject"] and "P2" in mail["Subject"]
    assert detected["Cc"] == f"{OPS}, {DEV}" and sorted(rcpt1) == sorted([PERF, OPS, DEV])
    assert update["Cc"] == OPS and sorted(rcpt2) == sorted([PERF, OPS])
    assert resolved["Cc"] == f"{OPS}, {DEV}" and sorted(rcpt3) == sorted([PERF, OPS, DEV])
    assert (
        "detected" in detected["Subject"]
        and "update" in update["Subject"]
        and "resolved" in resolved["Subject"]
    )

    body = detected.get_content()
    assert "PERFORMANCE ISSUE DETECTED" in body
    # KPI against target
    assert "p95 response time" in body and "3.20 s" in body and "target < 2.00 s" in body
    assert "In charge:  ana" in body and "Next update due:" in body
    assert "/api/v1/agents" in body  # internal readers see the endpoints
    assert "perfbook incident show INC-1" in body
    assert "Creating the index now." in update.get_content()
    assert "index on agents dropped" in update.get_content()  # the latest timeline entries
    assert "Next update due" not in resolved.get_content()

    sent = [
        e for e in records.timeline(store, number) if e.kind == "message" and e.data["channel"] == "email"
    ]
    assert [(e.data["event"], e.data["outcome"]) for e in sent] == [
        ("detected", "sent"),
        ("update", "sent"),
        ("resolved", "sent"),
    ]
    assert sent[1].data["recipients"] == [PERF, f"cc:{OPS}"]


def test_update_run_twice_is_sent_once_also_from_another_process(
    smtp_server, store, lab_incident, tmp_path
) -> None:
    port, inbox = smtp_server
    cfg = runbook_config(port)
    first = notify(store, cfg, lab_incident.number, "update", actor="ana")
    other = Store(store.url)  # a second run of the command: its own engine on the same file
    try:
        second = notify(other, cfg, lab_incident.number, "update", actor="bob")
    finally:
        other.close()
    assert len(inbox.mails) == 1
    assert [d.outcome for d in first.deliveries if d.channel == "email"] == ["sent"]
    assert [d.outcome for d in second.deliveries if d.channel == "email"] == ["already_sent"]
    # something new happened: the next update is a new message
    records.add_note(store, lab_incident.number, "rollback started", actor="ana")
    notify(store, cfg, lab_incident.number, "update", actor="ana")
    assert len(inbox.mails) == 2


def test_login_with_the_password_from_the_environment_never_shows_it(store, lab_incident) -> None:
    from aiosmtpd.smtp import AuthResult

    from receivers import smtp_inbox

    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret-pw")

    with smtp_inbox(authenticator=authenticator, auth_require_tls=False) as (port, inbox):
        cfg = runbook_config(port, user="perfbook", password_env="SMTP_PW", timeout_s=2)
        good = notify(store, cfg, lab_incident.number, "detected", actor="ana", env={"SMTP_PW": "s3cret-pw"})
        records.add_note(store, lab_incident.number, "next", actor="ana")
        bad = notify(
            store,
            cfg.model_copy(update={"notify": cfg.notify.model_copy(update={"attempts": 1})}),
            lab_incident.number,
            "update",
            actor="ana",
            env={"SMTP_PW": "wrong-pw"},
        )
    assert logins[0] == ("perfbook", "s3cret-pw") and len(inbox.mails) == 1
    email = [d for d in bad.deliveries if d.channel == "email"][0]
    assert email.outcome == "failed" and email.error.startswith(f"smtp 127.0.0.1:{port}: ")
    everything = (
        repr(good.to_dict()) + repr(bad.to_dict()) + repr(records.timeline(store, lab_incident.number))
    )
    assert "s3cret-pw" not in everything and "wrong-pw" not in everything
