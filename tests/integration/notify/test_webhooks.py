"""apprise ``json://`` web hooks to a real HTTP receiver; a refusing channel retried, reported, not in the way."""

from __future__ import annotations

import pytest

from perfbook.config import Config
from perfbook.incidents import records
from perfbook.notify.public import find_leaks, internals_of
from perfbook.notify.send import notify
from perfbook.services import free_port

pytest.importorskip("apprise")


def test_internal_and_external_hooks_get_their_own_texts(webhook, store, lab_incident) -> None:
    port = webhook.server_port
    cfg = Config.model_validate(
        {
            "notify": {
                "urls": [f"json://127.0.0.1:{port}/team"],
                "external_urls": [f"json://127.0.0.1:{port}/public"],
            },
            "status": {"components": [{"name": "API", "endpoints": ["/api/v1/*"]}]},
        }
    )
    result = notify(store, cfg, lab_incident.number, "detected", actor="ana")
    by_path = {r["path"]: r["json"] for r in webhook.received}
    assert set(by_path) == {"/team", "/public"}
    team, public = by_path["/team"], by_path["/public"]
    assert team["title"].startswith("[INC-1] P2") and "/api/v1/agents" in team["message"]
    assert public["title"] == "Investigating: Slower responses than usual on API"
    assert "users may see slower responses than usual on API" in public["message"]
    assert (
        find_leaks(
            public["title"] + "\n" + public["message"],
            internals_of([a.document for a in records.artifacts_of(store, lab_incident.number)]),
        )
        == []
    )
    outcomes = {(d.channel, d.audience): d.outcome for d in result.deliveries}
    assert outcomes == {
        ("json", "internal"): "sent",
        ("json", "external"): "sent",
        ("status_page", "external"): "sent",
    }
    recorded = [e.data for e in records.timeline(store, lab_incident.number) if e.kind == "message"]
    assert {(d["channel"], d["audience"], d["outcome"]) for d in recorded} == set(
        (c, a, o) for (c, a), o in outcomes.items()
    )
    assert all(
        d["recipients"] == [f"json://127.0.0.1:{port}/***"] for d in recorded if d["channel"] == "json"
    )


def test_a_refusing_channel_is_retried_a_bounded_number_of_times_and_the_others_deliver(
    webhook, store, lab_incident
) -> None:
    dead = free_port()  # nothing listens here: every connection is refused
    cfg = Config.model_validate(
        {
            "notify": {
                "urls": [f"json://127.0.0.1:{dead}/hook", f"json://127.0.0.1:{webhook.server_port}/alive"],
                "email": {"smtp_host": "127.0.0.1", "smtp_port": dead, "to": ["performance@example.com"]},
                "attempts": 3,
                "backoff_s": 0.05,
            }
        }
    )
    waits: list[float] = []
    result = notify(store, cfg, lab_incident.number, "detected", actor="ana", sleep=waits.append)

    failed = {d.channel: d for d in result.failed}
    assert set(failed) == {"email", "json"}
    assert all(d.attempts == 3 for d in failed.values())
    assert "refused" in failed["email"].error.lower()
    assert waits == [0.05, 0.1, 0.05, 0.1]  # two waits per failing channel, doubling
    assert [r["path"] for r in webhook.received] == ["/alive"]
    events = [e for e in records.timeline(store, lab_incident.number) if e.kind == "message"]
    assert sorted(e.data["outcome"] for e in events) == ["failed", "failed", "sent", "sent"]
    assert any("failed (3 attempts)" in e.summary for e in events)

    # a failed send is not final: the next run tries it again, and the delivered ones stay delivered
    again = notify(store, cfg, lab_incident.number, "detected", actor="ana", sleep=waits.append)
    outcomes = sorted(
        (d.channel, d.recipients[0], d.outcome) for d in again.deliveries if d.audience == "internal"
    )
    assert outcomes == sorted(
        [
            ("email", "performance@example.com", "failed"),
            ("json", f"json://127.0.0.1:{dead}/***", "failed"),
            ("json", f"json://127.0.0.1:{webhook.server_port}/***", "already_sent"),
        ]
    )
    assert len(webhook.received) == 1
