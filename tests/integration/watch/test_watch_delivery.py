"""Alert mail that could not be delivered: retried by later runs while the alert fires, bounded, recorded in
``messages``; an alert that fired with no channel configured is sent by the first run that has one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from probes.servers import AppServer, Route
from sqlalchemy import select

from perfbook.notify import delivery
from perfbook.notify.channels import EmailChannel, Outgoing
from perfbook.services import free_port
from perfbook.store import Store, alert_states, messages
from receivers import Inbox, smtp_inbox
from watch.watch_kit import lines, store_of, write_config

FAST = ("--window", "0.4s")
RULE = """
[[alerts.rules]]
name = "ApiSlowCritical"
when = "p95_s > 0.5"
for = "0s"
keep_firing_for = "0s"
severity = "critical"
"""
FIRING = "[CRITICAL] FIRING: ApiSlowCritical on /api/v1/slow"


class RefusingInbox(Inbox):
    """An SMTP server that answers 451 (try again later) to every message while ``refuse`` is set."""

    refuse = True

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse:
            return "451 4.3.0 mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def refusing_inbox() -> Iterator[tuple[int, RefusingInbox]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that refuses until told otherwise: (port, inbox)."""
    from aiosmtpd.controller import Controller

    inbox = RefusingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _rows(tmp_path):
    store = store_of(tmp_path)
    try:
        return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(messages))])
    finally:
        store.close()


def _deliveries(result) -> list[tuple[str, str, int]]:
    return [
        (n["kind"], d["outcome"], d["attempts"])
        for doc in lines(result.stdout)
        if doc["type"] == "run"
        for n in doc["notifications"]
        for d in n["deliveries"]
    ]


def test_a_failed_firing_mail_is_retried_once_per_run_until_the_server_takes_it(perfbook, tmp_path):
    with refusing_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=RULE)  # [notify] attempts = 1
        runs = [perfbook("watch", "--config", str(cfg), "--once", *FAST, "--json") for _ in range(2)]
        (row,) = _rows(tmp_path)
        assert (row["outcome"], row["attempts"]) == ("failed", 2) and "451" in row["error"]
        inbox.refuse = False  # the mail server is back
        runs += [perfbook("watch", "--config", str(cfg), "--once", *FAST, "--json") for _ in range(2)]
    assert all(r.exit_code == 0 for r in runs), [r.stderr for r in runs]
    assert [_deliveries(r) for r in runs] == [
        [("firing", "failed", 1)],
        [("retry", "failed", 2)],
        [("retry", "sent", 3)],
        [],
    ]
    assert [m["Subject"] for _, m in inbox.mails] == [FIRING]  # once, as rendered when it fired
    (row,) = _rows(tmp_path)
    assert (row["outcome"], row["attempts"], row["subject"]) == ("sent", 3, FIRING)


def test_a_failed_mail_of_an_alert_that_resolved_is_not_retried(perfbook, tmp_path):
    with refusing_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=RULE)
        fired = perfbook("watch", "--config", str(cfg), "--once", *FAST, "--json")
        app.routes["/api/v1/slow"] = Route(delay_s=0.0)
        inbox.refuse = False
        resolved = perfbook("watch", "--config", str(cfg), "--once", *FAST, "--json")
    assert fired.exit_code == resolved.exit_code == 0, resolved.stderr
    assert [k for k, _, _ in _deliveries(resolved)] == ["resolved"]  # no retry of the stale FIRING
    outcomes = {r["subject"]: r["outcome"] for r in _rows(tmp_path)}
    assert outcomes[FIRING] == "failed"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'perfbook.db'}"
    else:
        url = request.getfixturevalue("pg_dsn").replace("postgresql://", "postgresql+psycopg://", 1)
    s = Store(url)
    yield s
    s.close()


def test_retries_give_up_after_their_attempts_or_their_age(store):
    from perfbook.config import EmailConfig

    with refusing_inbox() as (port, _):
        channel = EmailChannel(EmailConfig(smtp_host="127.0.0.1", smtp_port=port, to=["oncall@example.com"]))
        msg = Outgoing("alert", "internal", "FIRING: X", "body")
        for key in ("k-attempts", "k-age"):
            (first,) = delivery.deliver(store, None, [(channel, msg, key)], attempts=1, backoff_s=0)
            assert first.outcome == "failed"
        assert (
            delivery.retry(store, channel, "k-attempts", max_attempts=3, max_age_s=3600).outcome == "failed"
        )
        assert (
            delivery.retry(store, channel, "k-attempts", max_attempts=2, max_age_s=3600).outcome == "given_up"
        )
        assert delivery.retry(store, channel, "k-age", max_attempts=10, max_age_s=0).outcome == "given_up"
    rows = {
        r["idempotency_key"]: r
        for r in store.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(messages))])
    }
    assert (rows["k-attempts"]["outcome"], rows["k-attempts"]["attempts"]) == ("given_up", 2)
    assert rows["k-attempts"]["error"].endswith("(gave up after 2 attempts)")
    assert rows["k-age"]["outcome"] == "given_up" and "gave up after" in rows["k-age"]["error"]
    assert delivery.failed_keys(store, event="alert") == []  # nothing left to retry


def test_an_alert_that_fired_without_a_channel_is_sent_when_one_is_configured(perfbook, tmp_path):
    with smtp_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=RULE)  # no [notify.email]
        quiet = perfbook("watch", "--config", str(cfg), "--once", *FAST, "--json")
        assert quiet.exit_code == 0, quiet.stderr
        assert [a["state"] for a in lines(quiet.stdout)[0]["alerts"] if a["rule"] == "ApiSlowCritical"] == [
            "firing"
        ]
        store = store_of(tmp_path)
        try:
            (state,) = store.read(
                lambda conn: [
                    dict(r._mapping)
                    for r in conn.execute(select(alert_states))
                    if r.rule == "ApiSlowCritical"
                ]
            )
        finally:
            store.close()
        assert state["state"] == "firing" and state["last_notified_s"] is None  # nothing was sent
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=RULE)
        runs = [perfbook("watch", "--config", str(cfg), "--once", *FAST, "--json") for _ in range(2)]
    assert all(r.exit_code == 0 for r in runs)
    assert [_deliveries(r) for r in runs] == [[("firing", "sent", 1)], []]
    assert [m["Subject"] for _, m in inbox.mails] == [FIRING]
