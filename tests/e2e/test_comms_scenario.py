"""End-to-end: an incident of the live lab told to people — mail, a hook, the status page, the postmortem.

The lab's ``slow`` fault is switched on and triaged (as a user runs triage); the incident opened
from that report is announced by mail (aiosmtpd) and to an external JSON hook; the status page
shows the API degraded; with the fault off a second triage is attached, the incident resolved and
announced, and the page is operational again. Every external text — hook payloads, status page
files, the customer notice — names none of this lab's internals (its tables, statements,
127.0.0.1 ports, hostname, pids, finding codes); the postmortem holds every timeline step and a
plot and renders in Chromium. Screenshots are kept under the test's tmp dir.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from perfbook.config import Config
from perfbook.incidents import records
from perfbook.incidents.model import Status
from perfbook.lab.state import LabState
from perfbook.notify.context import load_state
from perfbook.notify.public import find_leaks, internals_of
from perfbook.notify.send import notify
from perfbook.report.postmortem import render_postmortem
from perfbook.store import Store
from playwright_chromium import chromium
from receivers import http_receiver, smtp_inbox

pytestmark = pytest.mark.e2e


def test_a_lab_incident_is_told_inside_and_outside_without_leaking(
    lab: LabState, fault, triage, tmp_path: Path
):
    pytest.importorskip("apprise")
    store = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    site = tmp_path / "site"
    with smtp_inbox() as (port, inbox), http_receiver() as hooks:
        cfg = Config.model_validate(
            {
                "notify": {
                    "external_urls": [f"json://127.0.0.1:{hooks.server_port}/public"],
                    "service": "Example",
                    "email": {
                        "smtp_host": "127.0.0.1",
                        "smtp_port": port,
                        "to": ["performance@example.com"],
                        "cc": ["ops@example.com", "dev@example.com"],
                    },
                },
                "status": {
                    "dir": str(site),
                    "components": [
                        {"name": "API", "endpoints": ["/api/v1/*"]},
                        {"name": "Web app", "layers": ["frontend"]},
                    ],
                },
            }
        )
        fault("slow", endpoint="/api/v1/agents", delay_s=3.0)
        time.sleep(1.0)
        slow = triage()
        assert slow["severity"] in ("P2", "P1", "P0"), slow["severity_reason"]
        inc = records.open_incident(
            store,
            title=slow["causes"][0]["summary"][:120] if slow["causes"] else "slow",
            actor="ana",
            severity=slow["severity"],
            report=slow,
        )
        notify(store, cfg, inc.number, "detected", actor="ana")
        page = json.loads((site / "status.json").read_text())
        assert {c["name"]: c["status"] for c in page["components"]}["API"] in (
            "degraded_performance",
            "partial_outage",
            "major_outage",
        )
        notify(store, cfg, inc.number, "customer", actor="ana")

        from perfbook.lab import client

        client.switch_fault(lab, "slow", False)
        time.sleep(1.0)
        healthy = triage()
        records.attach(store, inc.number, "triage", healthy, actor="ana")
        records.set_status(store, inc.number, Status.MONITORING, actor="ana")
        notify(store, cfg, inc.number, "update", actor="ana")
        records.resolve(store, inc.number, actor="ana")
        notify(store, cfg, inc.number, "resolved", actor="ana")
        page = json.loads((site / "status.json").read_text())
        assert page["status"]["state"] == "operational" and [h["id"] for h in page["history"]] == [inc.id]

    assert [m["Subject"].split(" ")[0] for _, m in inbox.mails] == [f"[{inc.id}]"] * 3
    internals = internals_of([slow, healthy])
    assert internals.tables and internals.hosts  # the lab's own names are known to the guard
    external = [h["json"]["title"] + "\n" + h["json"]["message"] for h in hooks.received]
    external += [(site / n).read_text() for n in ("index.html", "status.json", "status.txt")]
    assert len(hooks.received) == 4  # detected, customer, update, resolved
    for text in external:
        assert find_leaks(text, internals) == []
        assert "127.0.0.1" not in text and "/api/v1/agents" not in text

    state = load_state(store, inc.number)
    html = render_postmortem(state, cfg, "html", now=dt.datetime.now(dt.UTC))
    store.close()
    out = tmp_path / "postmortem.html"
    out.write_text(html)
    with chromium() as browser:
        view = browser.new_page(viewport={"width": 1000, "height": 900})
        view.goto(out.as_uri())
        text = view.locator("main").inner_text()
        for event in state.events:
            assert event.summary in text, event.summary
        assert view.locator("img.plot").evaluate("img => img.naturalWidth") > 300
        view.screenshot(path=str(tmp_path / "postmortem.png"), full_page=True)
        view.goto((site / "index.html").as_uri())
        assert "Operational" in view.locator('[data-component="API"]').inner_text()
        view.screenshot(path=str(tmp_path / "status.png"), full_page=True)
