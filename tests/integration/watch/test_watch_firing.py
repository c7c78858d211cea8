"""What firing does, end to end: a silence holds the mail back, a critical alert opens one incident."""

from __future__ import annotations

from probes.servers import AppServer, Route

from receivers import smtp_inbox
from watch.watch_kit import lines, write_config

FAST = ("--interval", "1s", "--window", "0.4s")
CRITICAL_RULE = """
[[alerts.rules]]
name = "ApiSlowCritical"
when = "p95_s > 0.5"
for = "0s"
keep_firing_for = "0s"
severity = "critical"
"""


def test_a_silence_holds_the_firing_mail_until_it_is_expired(perfbook, tmp_path):
    with smtp_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=CRITICAL_RULE)
        added = perfbook(
            "alerts",
            "silence",
            "add",
            "alertname=ApiSlowCritical",
            "subject=/api/v1/slow",
            "--for",
            "1h",
            "--comment",
            "deploy",
            "--config",
            str(cfg),
            "--json",
        )
        assert added.exit_code == 0, added.stderr
        silenced = perfbook("watch", "--config", str(cfg), *FAST, "--duration", "2s", "--json")
        assert silenced.exit_code == 0, silenced.stderr
        alerts = [
            a
            for d in lines(silenced.stdout)
            if d["type"] == "run"
            for a in d["alerts"]
            if a["rule"] == "ApiSlowCritical"
        ]
        assert (
            alerts
            and alerts[-1]["state"] == "firing"
            and alerts[-1]["muted_by"] == f"silence {added.json['id']} (deploy)"
        )
        assert inbox.mails == []

        listed = perfbook("alerts", "silence", "list", "--config", str(cfg), "--json")
        assert [s["state"] for s in listed.json["silences"]] == ["active"]
        expired = perfbook("alerts", "silence", "expire", str(added.json["id"]), "--config", str(cfg))
        assert (
            expired.exit_code == 0
            and perfbook("alerts", "silence", "list", "--config", str(cfg), "--json").json["silences"] == []
        )
        after = perfbook("watch", "--config", str(cfg), "--once", "--json")
        assert after.exit_code == 0, after.stderr
    assert [m["Subject"] for _, m in inbox.mails] == ["[CRITICAL] FIRING: ApiSlowCritical on /api/v1/slow"]


def test_a_critical_alert_opens_one_incident_and_notes_its_resolution(perfbook, tmp_path):
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=CRITICAL_RULE, watch="open_incidents = true")
        first = perfbook("watch", "--config", str(cfg), *FAST, "--duration", "2s", "--json")
        assert first.exit_code == 0, first.stderr
        second = perfbook("watch", "--config", str(cfg), "--once", "--json")  # a restart joins, never reopens
        assert second.exit_code == 0
        app.routes["/api/v1/slow"] = Route(delay_s=0.0)
        resolved = perfbook("watch", "--config", str(cfg), "--once", "--json")
        assert resolved.exit_code == 0
    incidents = perfbook("incident", "list", "--all", "--config", str(cfg), "--json").json
    rows = incidents["incidents"] if isinstance(incidents, dict) else incidents
    assert len(rows) == 1
    shown = perfbook("incident", "show", rows[0]["id"], "--config", str(cfg), "--json").json
    summaries = [e["summary"] for e in shown["timeline"]]
    assert any("alert ApiSlowCritical on /api/v1/slow resolved" in s for s in summaries)
    # monitoring alerts configured
    assert any(i["number"] == 15 and i["state"] == "done" for i in shown["checklist"])
    listed = perfbook("alerts", "list", "--config", str(cfg), "--json").json["alerts"]
    assert [a["incident"] for a in listed if a["rule"] == "ApiSlowCritical"] == [rows[0]["id"]]


def test_a_firing_alert_is_repeated_every_repeat_interval(perfbook, tmp_path):
    with smtp_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        rules = '[alerts]\nrepeat_interval = "2s"\n' + CRITICAL_RULE
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=rules)
        result = perfbook("watch", "--config", str(cfg), *FAST, "--duration", "5s", "--json")
    assert result.exit_code == 0, result.stderr
    kinds = [n["kind"] for d in lines(result.stdout) if d["type"] == "run" for n in d["notifications"]]
    assert kinds[0] == "firing" and "repeat" in kinds and len(kinds) <= 3
    subjects = [m["Subject"] for _, m in inbox.mails]
    assert len(subjects) == len(kinds) and subjects[1] == "[CRITICAL] REPEAT: ApiSlowCritical on /api/v1/slow"
    assert "still firing; repeated every 2s" in inbox.mails[1][1].get_content()


def test_an_unreachable_backend_inhibits_its_latency_alert(perfbook, tmp_path):
    rules = CRITICAL_RULE + '\n[[alerts.rules]]\nname = "BackendUnreachable"\nfor = "0s"\n'
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=rules)
        slow = perfbook("watch", "--config", str(cfg), "--once", "--json")
    assert slow.exit_code == 0, slow.stderr
    assert [a["state"] for a in lines(slow.stdout)[0]["alerts"] if a["rule"] == "ApiSlowCritical"] == [
        "firing"
    ]
    down = perfbook("watch", "--config", str(cfg), "--once", "--json")  # the app is gone: connection refused
    assert down.exit_code == 0, down.stderr
    alerts = {a["rule"]: a for a in lines(down.stdout)[0]["alerts"]}
    assert alerts["BackendUnreachable"]["state"] == "firing"
    assert alerts["ApiSlowCritical"]["state"] == "firing"  # not measured: it neither fires nor resolves
    assert alerts["ApiSlowCritical"]["muted_by"].startswith("inhibited by BackendUnreachable")


def test_a_fault_gone_inside_for_sends_nothing(perfbook, tmp_path):
    rules = CRITICAL_RULE.replace('for = "0s"', 'for = "1h"')
    with smtp_inbox() as (port, inbox), AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, smtp_port=port, rules=rules)
        on = perfbook("watch", "--config", str(cfg), "--once", "--json")
        app.routes["/api/v1/slow"] = Route(delay_s=0.0)
        off = perfbook("watch", "--config", str(cfg), "--once", "--json")
    assert on.exit_code == off.exit_code == 0
    moves = [
        (d["old"], d["new"])
        for r in (on, off)
        for d in lines(r.stdout)
        if d["type"] == "transition" and d["rule"] == "ApiSlowCritical"
    ]
    assert moves == [("inactive", "pending"), ("pending", "inactive")]
    assert inbox.mails == []
    kept = perfbook("alerts", "list", "--config", str(cfg), "--json").json["alerts"]
    assert all(a["rule"] != "ApiSlowCritical" for a in kept)  # back to inactive: no state left


def test_a_critical_alert_joins_the_open_incident_of_its_endpoint(perfbook, tmp_path):
    from perfbook.incidents import records
    from watch.watch_kit import store_of

    report = {"findings": [{"code": "http.slow_response", "level": "warning", "subject": "/api/v1/slow"}]}
    store = store_of(tmp_path)
    try:
        inc = records.open_incident(store, title="Slow API", actor="ana", severity="P2", report=report)
    finally:
        store.close()
    with AppServer(routes={"/api/v1/slow": Route(delay_s=1.0)}) as app:
        cfg = write_config(tmp_path, app.url, rules=CRITICAL_RULE, watch="open_incidents = true")
        result = perfbook("watch", "--config", str(cfg), "--once", "--json")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout)[0]["incidents"] == [
        {"rule": "ApiSlowCritical", "subject": "/api/v1/slow", "incident": inc.number}
    ]
    listed = perfbook("incident", "list", "--config", str(cfg), "--json").json
    assert len(listed["incidents"] if isinstance(listed, dict) else listed) == 1  # joined, none opened
