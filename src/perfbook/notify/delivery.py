"""Deliver one message per channel, at most once per idempotency key, with bounded retry and backoff.

A send first claims its key in the store's ``messages`` table (one row per key, ever, a unique
constraint): a key already ``sent`` is skipped, also by another run or another process; a
``pending`` claim younger than :data:`LEASE_S` belongs to a run still sending and is skipped too;
a ``failed`` (or abandoned) one is claimed again. Then ``attempts`` tries, waiting ``backoff_s``,
2 × ``backoff_s`` … between them; the row ends ``sent`` (final: a trigger refuses any change) or
``failed`` with the last reason. A failing channel never stops the others.

    results = deliver(store, 7, [(channel, msg, key)], attempts=3, backoff_s=1.0)

A ``failed`` row can be tried again later with :func:`retry`: one attempt with the message as it
was rendered, counted on the row's ``attempts``; a row that has had ``max_attempts`` in all, or is
``max_age_s`` old, ends ``given_up`` instead (final for the retries; its last error kept).

    later = retry(store, channel, key, max_attempts=10, max_age_s=3600.0)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from perfbook.incidents.reminders import parse_iso
from perfbook.notify.channels import Channel, DeliveryError, Outgoing
from perfbook.store import messages, now_iso

LEASE_S = 300.0  # a pending claim older than this was abandoned (the process died mid-send)


@dataclass(frozen=True)
class Delivery:
    """What happened to one message on one channel."""

    channel: str
    audience: str
    recipients: list[str]
    key: str
    outcome: str  # sent | failed | given_up | already_sent | in_progress | dry_run
    attempts: int = 0
    error: str | None = None
    sent_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "audience": self.audience,
            "recipients": self.recipients,
            "key": self.key,
            "outcome": self.outcome,
            "attempts": self.attempts,
            "error": self.error,
            "sent_at": self.sent_at,
        }


def deliver(
    store: Any,
    incident: int | None,
    sends: Sequence[tuple[Channel, Outgoing, str]],
    *,
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Each ``(channel, message, key)`` delivered at most once per key; one :class:`Delivery` each."""
    results = []
    for channel, msg, key in sends:
        recipients = channel.recipients(msg.event)
        claim = store.write(
            lambda conn, c=channel, m=msg, k=key, r=recipients: _claim(conn, incident, c, m, k, r)
        )
        if claim is not None:
            results.append(
                Delivery(channel.name, channel.audience, recipients, key, claim[0], sent_at=claim[1])
            )
            continue
        results.append(_attempt(store, channel, msg, key, recipients, attempts, backoff_s, sleep))
    return results


def failed_keys(store: Any, *, event: str) -> list[str]:
    """The keys of ``event`` messages whose delivery failed and may be retried, oldest first."""
    query = (
        select(messages.c.idempotency_key)
        .where(messages.c.outcome == "failed", messages.c.event == event)
        .order_by(messages.c.id)
    )
    return store.read(lambda conn: list(conn.execute(query).scalars()))


def retry(store: Any, channel: Channel, key: str, *, max_attempts: int, max_age_s: float) -> Delivery:
    """One more attempt of the failed message ``key`` on ``channel``, or ``given_up`` past the bounds."""

    def claim_tx(conn: Connection) -> tuple[dict[str, Any], str | None]:
        row = _row(conn, key, lock=True)
        assert row is not None
        if row["outcome"] != "failed":  # sent or claimed meanwhile by another process
            return row, "already_sent" if row["outcome"] == "sent" else "in_progress"
        now = now_iso()
        age_s = (parse_iso(now) - parse_iso(row["created_at"])).total_seconds()
        if row["attempts"] >= max_attempts or age_s >= max_age_s:
            why = f"{row['attempts']} attempts" if row["attempts"] >= max_attempts else f"{age_s:.0f} s"
            error = f"{row['error']} (gave up after {why})"
            conn.execute(
                update(messages)
                .where(messages.c.idempotency_key == key)
                .values(outcome="given_up", error=error)
            )
            return {**row, "error": error}, "given_up"
        conn.execute(
            update(messages)
            .where(messages.c.idempotency_key == key)
            .values(outcome="pending", claimed_at=now)
        )
        return row, None

    row, outcome = store.write(claim_tx)
    recipients = list(row["recipients"] or [])
    if outcome is not None:
        return Delivery(
            channel.name,
            channel.audience,
            recipients,
            key,
            outcome,
            row["attempts"],
            row["error"],
            row["sent_at"],
        )
    n = row["attempts"] + 1
    try:
        channel.send(Outgoing(row["event"], row["audience"], row["subject"] or "", row["body"] or ""), key)
    except DeliveryError as err:
        error = str(err)
        store.write(lambda conn: _set(conn, key, attempts_done=n, outcome="failed", error=error))
        return Delivery(channel.name, channel.audience, recipients, key, "failed", n, error)
    sent_at = now_iso()
    store.write(lambda conn: _set(conn, key, attempts_done=n, outcome="sent", sent_at=sent_at))
    return Delivery(channel.name, channel.audience, recipients, key, "sent", n, None, sent_at)


def previous(store: Any, key: str) -> dict[str, Any] | None:
    """The messages row of ``key`` (None when never claimed): what a dry run reports."""
    return store.read(lambda conn: _row(conn, key))


def _attempt(
    store: Any,
    channel: Channel,
    msg: Outgoing,
    key: str,
    recipients: list[str],
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None],
) -> Delivery:
    error = None
    for n in range(1, attempts + 1):
        try:
            channel.send(msg, key)
        except DeliveryError as err:
            error = str(err)
            store.write(lambda conn, n=n, e=error: _set(conn, key, attempts_done=n, error=e))
            if n < attempts:
                sleep(backoff_s * 2 ** (n - 1))
            continue
        sent_at = now_iso()
        store.write(lambda conn, n=n, t=sent_at: _set(conn, key, attempts_done=n, outcome="sent", sent_at=t))
        return Delivery(channel.name, channel.audience, recipients, key, "sent", n, None, sent_at)
    store.write(lambda conn: _set(conn, key, attempts_done=attempts, outcome="failed", error=error))
    return Delivery(channel.name, channel.audience, recipients, key, "failed", attempts, error)


def _claim(
    conn: Connection, incident: int | None, channel: Channel, msg: Outgoing, key: str, recipients: list[str]
) -> tuple[str, str | None] | None:
    """None when this run now owns ``key``; else why not (``already_sent`` / ``in_progress``) and when sent."""
    row = _row(conn, key, lock=True)
    now = now_iso()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(messages).values(
                        idempotency_key=key,
                        incident_id=incident,
                        event=msg.event,
                        audience=msg.audience,
                        channel=channel.name,
                        recipients=recipients,
                        subject=msg.subject,
                        body=msg.body,
                        outcome="pending",
                        attempts=0,
                        created_at=now,
                        claimed_at=now,
                    )
                )
            return None
        except IntegrityError:  # another process claimed it between our read and insert
            row = _row(conn, key)
    assert row is not None  # read, or written by the process that won the claim
    if row["outcome"] == "sent":
        return "already_sent", row["sent_at"]
    if (
        row["outcome"] == "pending"
        and (parse_iso(now) - parse_iso(row["claimed_at"])).total_seconds() < LEASE_S
    ):
        return "in_progress", None
    conn.execute(
        update(messages)
        .where(messages.c.idempotency_key == key)
        .values(
            outcome="pending",
            claimed_at=now,
            subject=msg.subject,
            body=msg.body,
            recipients=recipients,
            error=None,
        )
    )
    return None


def _set(
    conn: Connection,
    key: str,
    *,
    attempts_done: int,
    outcome: str | None = None,
    error: str | None = None,
    sent_at: str | None = None,
) -> None:
    values: dict[str, Any] = {"attempts": attempts_done, "error": error}
    if outcome:
        values["outcome"] = outcome
    if sent_at:
        values["sent_at"] = sent_at
    conn.execute(update(messages).where(messages.c.idempotency_key == key).values(**values))


def _row(conn: Connection, key: str, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(messages).where(messages.c.idempotency_key == key)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return dict(row._mapping) if row else None
