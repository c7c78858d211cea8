"""``POST /hooks/alertmanager`` with a real Alertmanager (and, end to end, a real Prometheus firing
perfbook's exported rules) in front of ``perfbook serve`` on 127.0.0.1.

End to end: two replicas, one slow; Prometheus (1 s scrapes and evaluations) fires HighResponseTime
from ``perfbook alerts export``'s rules with ``for: 2s``; Alertmanager (``group_wait: 1s``) posts it
with the bearer token; an incident appears for the group with a triage attached whose prometheus
probe names the slow replica. (How a resolution is noted: the plain Alertmanager test below; through
Prometheus it waits for the rule's range to empty and its resend, a minute or more.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet_stack import Alertmanager, Prometheus, Replica, Traffic
from perfbook import services
from perfbook.config import load_config
from perfbook.incidents import records
from perfbook.store import Store
from perfbook.web.app import create_app
from perfbook.web.server import start_in_thread
from receivers import http_receiver

TOKEN = "am-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _serve(tmp: Path, config_text: str, store_url: str | None = None) -> tuple[Any, Store, Any]:
    (tmp / "perfbook.toml").write_text(config_text)
    cfg = load_config(tmp / "perfbook.toml", env={})
    store = Store(store_url or f"sqlite:///{tmp / 'perfbook.db'}")
    app = create_app(cfg, store, token=TOKEN)
    return start_in_thread(app), store, app


QUIET = """
[http]
base_url = ""
[frontend]
url = ""
[triage]
window_s = 0.2
[host]
remote = "skip"
"""


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, Store, Any]]:
    running, store, app = _serve(tmp_path, QUIET)
    yield running.url, store, app
    runner = getattr(app.state, "alert_triages", None)
    if runner is not None:
        runner.wait(30)
    running.stop()


def payload(group: str, n: int = 1, status: str = "firing", **labels: str) -> dict[str, Any]:
    """An Alertmanager webhook body (version 4) of ``n`` alerts in group ``group``."""
    common = {"alertname": "HighResponseTime", "job": "api", **labels}
    alerts = [
        {
            "status": status,
            "labels": {**common, "instance": f"10.0.0.{i}:8001"},
            "annotations": {"summary": "p95 over 2 s"},
            "startsAt": "2026-12-02T01:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{group}-{i:04d}",
        }
        for i in range(n)
    ]
    return {
        "version": "4",
        "status": status,
        "receiver": "perfbook",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "groupLabels": {"alertname": group},
        "commonLabels": common,
        "commonAnnotations": {"summary": "p95 over 2 s"},
        "externalURL": "http://alertmanager",
        "alerts": alerts,
        "truncatedAlerts": 0,
    }


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.3)


def test_a_bad_payload_a_wrong_token_and_a_huge_body_are_refused_in_one_line(served):
    url, store, _ = served
    with httpx.Client(base_url=url, timeout=30) as client:
        bad = client.post("/hooks/alertmanager", content=b'{"status": "firing"}', headers=AUTH)
        assert bad.status_code == 400 and "groupKey" in bad.json()["reason"] and "\n" not in bad.text
        not_json = client.post("/hooks/alertmanager", content=b"{oops", headers=AUTH)
        assert not_json.status_code == 400 and "not JSON" in not_json.json()["reason"]
        wrong = client.post(
            "/hooks/alertmanager", json=payload("g"), headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code in (401, 403)
        anonymous = client.post("/hooks/alertmanager", json=payload("g"))
        assert anonymous.status_code == 401
        huge = client.post("/hooks/alertmanager", content=b" " * (21 * 2**20), headers=AUTH)
        assert huge.status_code == 413
        basic_wrong = client.post("/hooks/alertmanager", json=payload("g"), auth=("alertmanager", "nope"))
        assert basic_wrong.status_code == 401
        as_form = client.post(
            "/hooks/alertmanager",
            content=json.dumps(payload("g")),
            auth=("alertmanager", TOKEN),
            headers={"Content-Type": "text/plain"},
        )
        # what a cross-site form could send with a browser's cached credentials
        assert as_form.status_code == 401
        assert records.list_incidents(store, include_resolved=True) == []
        basic = client.post("/hooks/alertmanager", json=payload("g"), auth=("alertmanager", TOKEN))
        assert basic.status_code == 202 and basic.json()["action"] == "opened"
    [inc] = records.list_incidents(store)
    opened, firing = records.timeline(store, inc.number)[:2]  # a background triage may have added more since
    assert opened.actor == firing.actor == "alertmanager (alertmanager)" and firing.summary.startswith(
        "Alertmanager: "
    )


def test_a_storm_is_one_incident_per_group_with_every_alert_kept_and_triages_bounded(served):
    url, store, app = served
    answers = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for g in range(10):  # 10 groups × 50 alerts, each group sent twice (Alertmanager repeats)
            for _ in range(2):
                answers.append(
                    client.post("/hooks/alertmanager", json=payload(f"g{g}", 50), headers=AUTH).json()
                )
    assert [a["action"] for a in answers].count("opened") == 10
    assert all(
        a["action"] == "updated" and a["new_alerts"] == 0 and a["triage"] == "none" for a in answers[1::2]
    )
    assert app.state.alert_triages.wait(60)
    incidents = records.list_incidents(store)
    assert len(incidents) == 10
    for inc in incidents:
        events = records.timeline(store, inc.number)
        fingerprints = {f for e in events for f in (e.data.get("alertmanager") or {}).get("fingerprints", [])}
        assert len(fingerprints) == 50  # nothing lost
        # one triage, not 2 or 100
        assert [a.kind for a in records.artifacts_of(store, inc.number)] == ["triage"]


def test_after_a_person_resolves_it_repeats_are_ignored_and_a_new_firing_opens_a_new_incident(served):
    url, store, app = served
    with httpx.Client(base_url=url, timeout=30, headers=AUTH) as client:
        first = client.post("/hooks/alertmanager", json=payload("flap")).json()
        assert app.state.alert_triages.wait(60)
        records.resolve(store, int(first["incident"].split("-")[1]), actor="ana", message="rolled back")
        repeat = client.post("/hooks/alertmanager", json=payload("flap")).json()
        assert repeat["action"] == "ignored" and repeat["incident"] == first["incident"]
        again = payload("flap")
        again["alerts"][0]["startsAt"] = "2026-12-02T03:00:00Z"  # the same alert, firing again later
        back = client.post("/hooks/alertmanager", json=again).json()
    assert (
        back["action"] == "opened" and back["incident"] != first["incident"] and back["triage"] == "scheduled"
    )


def test_a_real_alertmanager_posts_to_the_receiver_the_headline_is_posted_and_resolution_noted(tmp_path):
    with http_receiver() as chat:
        running, store, app = _serve(
            tmp_path, QUIET + f'[notify]\nurls = ["json://127.0.0.1:{chat.server_port}/team"]\n'
        )
        try:
            with Alertmanager(tmp_path, f"{running.url}/hooks/alertmanager", TOKEN) as am:
                starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
                alert = {
                    "labels": {"alertname": "HighErrorRate", "job": "api", "severity": "critical"},
                    "annotations": {"summary": "5xx share 12 %"},
                    "startsAt": starts,
                }
                am.post([alert])
                inc = _wait(lambda: records.list_incidents(store), 30, "no incident from Alertmanager")[0]
                assert inc.title == "HighErrorRate: 5xx share 12 %" and inc.severity == "P1"
                assert inc.dedup_key and inc.dedup_key.startswith("alertmanager:")
                _wait(lambda: records.artifacts_of(store, inc.number), 30, "no triage attached")
                posted = _wait(lambda: chat.received, 30, "the headline was not posted")
                assert "triage (job=api" in json.dumps(posted[0]["json"])
                am.post(
                    [{**alert, "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))}]
                )
                _wait(
                    lambda: any(
                        e.summary.startswith("Alertmanager: HighErrorRate resolved")
                        for e in records.timeline(store, inc.number)
                    ),
                    30,
                    "resolution not noted",
                )
            assert len(records.list_incidents(store)) == 1  # the same group never opened a second one
        finally:
            app.state.alert_triages.wait(30)
            running.stop()


RULES = """
[http]
base_url = ""
min_window_requests = 5
[frontend]
url = ""
[host]
remote = "skip"
[triage]
window_s = 0.5

[prometheus]
url = "{prom}"
range_s = 6

[thresholds]
p95_s = 0.4
severity_p3_s = 0.2
severity_p2_s = 0.4

[alerts]
prometheus_selector = 'job="api"'
prometheus_range = "5s"

[[alerts.rules]]
name = "HighResponseTime"
when = "p95_s > 0.3"
for = "2s"
"""


def test_prometheus_fires_perfbooks_rules_and_the_incident_gets_a_triage_naming_the_slow_replica(
    perfbook, tmp_path
):
    prom_dir, am_dir = tmp_path / "prom", tmp_path / "am"
    prom_dir.mkdir()
    am_dir.mkdir()
    prom_port = services.free_port()
    running, store, app = _serve(tmp_path, RULES.format(prom=f"http://127.0.0.1:{prom_port}"))
    exported = perfbook(
        "alerts",
        "export",
        "--config",
        str(tmp_path / "perfbook.toml"),
        "--prometheus",
        str(prom_dir / "rules.yml"),
    )
    assert exported.exit_code == 0, exported.stderr
    try:
        with (
            Replica() as good,
            Replica(slow_s=0.6) as bad,
            Traffic([good, bad], pause_s=0.1),
            Alertmanager(am_dir, f"{running.url}/hooks/alertmanager", TOKEN) as am,
        ):
            with Prometheus(
                prom_dir,
                [good.target, bad.target],
                rule_files=["rules.yml"],
                alertmanager=am.target,
                port=prom_port,
            ):
                started = time.monotonic()
                inc = _wait(
                    lambda: [
                        i for i in records.list_incidents(store) if i.title.startswith("HighResponseTime")
                    ],
                    60,
                    "HighResponseTime never reached the receiver",
                )[0]
                arts = _wait(lambda: records.artifacts_of(store, inc.number), 60, "no triage attached")
                took_s = time.monotonic() - started
                report = arts[0].document
                slow = [f for f in report["findings"] if f["code"] == "http.slow_response"]
                assert slow and slow[0]["evidence"]["worst_instance"] == bad.target, report["findings"]
                assert report["probes"]["prometheus"]["status"] == "ok"
        print(json.dumps({"alert_to_triage_s": round(took_s, 1)}))
    finally:
        runner = getattr(app.state, "alert_triages", None)
        if runner is not None:
            runner.wait(30)
        running.stop()
