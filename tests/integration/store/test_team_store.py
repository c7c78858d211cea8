"""One store for the team: the Alertmanager receiver (``perfbook serve``) and an engineer's CLI, two
processes, on one private PostgreSQL through the same ``[store] url = "postgresql://…"``.

The receiver opens the incident from a webhook; the CLI (a separate ``python -m perfbook``) lists it,
adds a note; the receiver notes the group's resolution; the CLI sees both on the timeline. Two
``perfbook serve`` processes receiving the same new group at once open one incident (a per-group
advisory lock: without it, this test saw two).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from perfbook.config import load_config
from perfbook.store import open_store
from perfbook.web.app import create_app
from perfbook.web.server import start_in_thread

TOKEN = "team-store-token-0123456789abcdef"


def _cli(config: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}
    proc = subprocess.run(
        [sys.executable, "-m", "perfbook", *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _hook(status: str) -> dict:
    alert = {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "job": "api", "severity": "critical"},
        "annotations": {"summary": "5xx share 12 %"},
        "startsAt": "2026-12-02T01:00:00Z",
        "fingerprint": "abc123",
    }
    return {
        "version": "4",
        "status": status,
        "receiver": "perfbook",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "alerts": [alert],
    }


def test_the_receiver_and_the_cli_share_one_postgresql_store(pg_dsn, tmp_path):
    config = tmp_path / "perfbook.toml"
    config.write_text(
        f'[store]\nurl = "{pg_dsn}"\n\n[http]\nbase_url = ""\n[frontend]\nurl = ""\n'
        '[host]\nremote = "skip"\n[triage]\nwindow_s = 0.2\n'
    )
    cfg = load_config(config, env={})
    store = open_store(cfg, env={})
    assert store.dialect == "postgresql"
    app = create_app(cfg, store, token=TOKEN)
    running = start_in_thread(app)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        opened = httpx.post(
            f"{running.url}/hooks/alertmanager", json=_hook("firing"), headers=auth, timeout=30
        ).json()
        assert opened["action"] == "opened"
        listed = _cli(config, "incident", "list")["incidents"]
        assert [(i["id"], i["title"], i["severity"]) for i in listed] == [
            (opened["incident"], "HighErrorRate: 5xx share 12 %", "P1")
        ]
        _cli(config, "incident", "note", opened["incident"], "rolled back release 42", "--as", "ana")
        assert app.state.alert_triages.wait(60)
        resolved = httpx.post(
            f"{running.url}/hooks/alertmanager", json=_hook("resolved"), headers=auth, timeout=30
        ).json()
        assert resolved == {
            "incident": opened["incident"],
            "action": "resolved",
            "new_alerts": 0,
            "triage": "none",
        }
    finally:
        running.stop()
    shown = _cli(config, "incident", "show", opened["incident"])
    summaries = [(e["actor"], e["summary"]) for e in shown["timeline"]]
    assert ("ana", "rolled back release 42") in summaries
    assert any(s.startswith("Alertmanager: HighErrorRate resolved") for _, s in summaries)
    # the receiver's background triage, in the same store
    assert [a["kind"] for a in shown["artifacts"]] == ["triage"]


def test_two_receiver_processes_on_one_store_open_one_incident_per_group(pg_dsn, tmp_path):
    import concurrent.futures

    from perfbook import services
    from perfbook.incidents import records

    config = tmp_path / "perfbook.toml"
    config.write_text(
        f'[store]\nurl = "{pg_dsn}"\n\n[http]\nbase_url = ""\n[frontend]\nurl = ""\n'
        '[host]\nremote = "skip"\n[triage]\nwindow_s = 0.2\n'
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")},
        "PERFBOOK_SERVE_TOKEN": TOKEN,
    }
    ports = [services.free_port(), services.free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perfbook",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--config",
                str(config),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port in ports:
            services.wait_for_port("127.0.0.1", port, timeout_s=30)
            warm = {**_hook("resolved"), "groupKey": "warm-up"}  # both processes past their first imports
            httpx.post(
                f"http://127.0.0.1:{port}/hooks/alertmanager",
                json=warm,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            ).raise_for_status()

        def post(i: int) -> str:
            url = f"http://127.0.0.1:{ports[i % 2]}/hooks/alertmanager"
            body = _hook("firing")
            body["alerts"][0]["fingerprint"] = f"fp{i}"  # each call brings a new alert of the same group
            return httpx.post(
                url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            ).json()["action"]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            actions = list(pool.map(post, range(16)))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    assert actions.count("opened") == 1 and actions.count("updated") == 15
    store = open_store(load_config(config, env={}), env={})
    [inc] = records.list_incidents(store)
    fingerprints = {
        f
        for e in records.timeline(store, inc.number)
        for f in (e.data.get("alertmanager") or {}).get("fingerprints", [])
    }
    assert fingerprints == {f"fp{i}" for i in range(16)}
