"""Delivery on a team's store: a private real PostgreSQL, two processes' engines, one send per key."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from lab_recordings import lab_report
from perfbook.config import Config
from perfbook.incidents import records
from perfbook.notify.send import notify
from perfbook.store import Store, StoreError, messages


def test_two_stores_sending_the_same_update_at_once_send_it_once(pg_dsn, smtp_server) -> None:
    port, inbox = smtp_server
    url = pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    cfg = Config.model_validate(
        {
            "notify": {
                "email": {"smtp_host": "127.0.0.1", "smtp_port": port, "to": ["performance@example.com"]}
            }
        }
    )
    first, second = Store(url), Store(url)
    try:
        inc = records.open_incident(
            first, title="slow", actor="ana", severity="P2", report=lab_report("slow")
        )
        results = []
        barrier = threading.Barrier(2)

        def run(store: Store) -> None:
            barrier.wait()
            results.append(notify(store, cfg, inc.number, "update", actor="ana"))

        threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(inbox.mails) == 1
        outcomes = sorted(d.outcome for r in results for d in r.deliveries if d.channel == "email")
        assert outcomes.count("sent") == 1 and len(outcomes) == 2
        assert set(outcomes) - {"sent"} <= {"already_sent", "in_progress"}
        rows = first.read(lambda conn: [dict(r._mapping) for r in conn.execute(select(messages))])
        assert {(r["channel"], r["outcome"]) for r in rows} == {("email", "sent"), ("status_page", "sent")}
        # a sent message is final, on PostgreSQL too
        with pytest.raises((StoreError, SQLAlchemyError)):
            first.write(lambda conn: conn.execute(update(messages).values(outcome="failed")))
    finally:
        first.close()
        second.close()
