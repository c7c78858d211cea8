"""The JSON API and the write guard against the real app on a free port, over a seeded store.

What an API client sees: reads without a token, every write refused without it (401) and with a
wrong CSRF token on a form (403), errors as JSON with a reason and the right 4xx, changes that
show on the timeline exactly as the CLI's do, and a public status page that moves with an incident.
"""

from __future__ import annotations

import re

from conftest import TOKEN, Served
from perfbook.incidents import records
from perfbook.web.security import CSRF_COOKIE, SESSION_COOKIE


def test_reads_need_no_token_and_mirror_incident_show(served: Served) -> None:
    with served.client() as c:
        listing = c.get("/api/v1/incidents").json()
        # open, newest first
        assert [i["id"] for i in listing["incidents"]] == [served.ids["seqscan"], served.ids["slow"]]
        assert listing["total"] == 2
        everything = c.get("/api/v1/incidents", params={"all": "true"}).json()
        assert everything["total"] == 3
        p1 = c.get("/api/v1/incidents", params={"severity": "P1"}).json()["incidents"]
        assert [i["id"] for i in p1] == [served.ids["seqscan"]]
        shown = c.get(f"/api/v1/incidents/{served.ids['slow']}").json()
    number = int(served.ids["slow"].split("-")[1])
    assert [e["summary"] for e in shown["timeline"]] == [
        e.summary for e in records.timeline(served.store, number)
    ]
    assert len(shown["checklist"]) == 20 and shown["incident"]["status"] == "identified"


def test_a_write_without_the_token_is_401_and_changes_nothing(served: Served) -> None:
    number = int(served.ids["slow"].split("-")[1])
    before = len(records.timeline(served.store, number))
    with served.client() as c:
        none = c.post(f"/api/v1/incidents/{served.ids['slow']}/notes", json={"text": "hello"})
        wrong = c.post(
            f"/api/v1/incidents/{served.ids['slow']}/notes",
            json={"text": "hello"},
            headers={"Authorization": "Bearer not-the-token"},
        )
        basic = c.post("/api/v1/triage", json={}, headers={"Authorization": f"Basic {TOKEN}"})
    for response in (none, wrong, basic):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["reason"] and "Traceback" not in response.text
    assert len(records.timeline(served.store, number)) == before


def test_a_write_with_the_token_is_on_the_timeline_with_the_named_actor(served: Served) -> None:
    with served.client() as c:
        r = c.post(
            f"/api/v1/incidents/{served.ids['slow']}/notes",
            json={"text": "rolled back", "followup": True},
            headers={**served.auth, "X-Perfbook-Actor": "dana"},
        )
    assert r.status_code == 200, r.text
    last = r.json()["timeline"][-1]
    assert (last["kind"], last["summary"], last["actor"]) == ("note", "rolled back", "dana (api)")


def _signed_in(served: Served, c) -> str:
    """Sign in through the form as a browser does; the CSRF token of the page."""
    page = c.get("/signin", headers={"accept": "text/html"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    r = c.post("/signin", data={"csrf_token": csrf, "name": "erin", "token": TOKEN, "next": "/"})
    assert r.status_code == 303 and SESSION_COOKIE in c.cookies
    return csrf


def test_a_form_post_with_a_wrong_csrf_token_is_403(served: Served, perfbook) -> None:
    number = int(served.ids["seqscan"].split("-")[1])
    with served.client() as c:
        csrf = _signed_in(served, c)
        forged = c.post(
            f"/incidents/{served.ids['seqscan']}/checklist/18", data={"state": "done", "csrf_token": "x.y"}
        )
        missing = c.post(f"/incidents/{served.ids['seqscan']}/checklist/18", data={"state": "done"})
        other_browser = c.post(
            f"/incidents/{served.ids['seqscan']}/checklist/18",
            data={"state": "done", "csrf_token": served_csrf_of_another_browser(served)},
        )
        assert [r.status_code for r in (forged, missing, other_browser)] == [403, 403, 403]
        assert records.checklist_of(served.store, number)[17].state == "open"
        ok = c.post(
            f"/incidents/{served.ids['seqscan']}/checklist/18", data={"state": "done", "csrf_token": csrf}
        )
    assert ok.status_code == 303
    item = records.checklist_of(served.store, number)[17]
    assert (item.state, item.by) == ("done", "erin")
    shown = perfbook(
        "incident", "show", served.ids["seqscan"], "--json", env={"PERFBOOK_STORE_URL": served.store.url}
    )
    assert shown.exit_code == 0, shown.stderr
    assert shown.json["checklist"][17]["state"] == "done" and shown.json["checklist"][17]["by"] == "erin"


def served_csrf_of_another_browser(served: Served) -> str:
    with served.client() as other:
        other.get("/", headers={"accept": "text/html"})
        return other.cookies[CSRF_COOKIE]


def test_errors_are_json_with_a_reason_and_the_right_4xx(served: Served) -> None:
    with served.client(headers=served.auth) as c:
        cases = {
            "unknown incident": (c.get("/api/v1/incidents/INC-999999"), 404),
            "not an id": (c.get("/api/v1/incidents/banana"), 400),
            "refused by the state": (
                c.post(f"/api/v1/incidents/{served.ids['resolved']}/resolve", json={}),
                409,
            ),
            "bad severity": (
                c.post(f"/api/v1/incidents/{served.ids['slow']}/severity", json={"severity": "P9"}),
                400,
            ),
            "schema": (c.post(f"/api/v1/incidents/{served.ids['slow']}/notes", json={"txt": 1}), 422),
            "no such route": (c.get("/api/v1/nothing-here"), 404),
            "no such report": (c.get("/api/v1/reports/999999"), 404),
            "too large": (
                c.post(
                    "/api/v1/incidents",
                    content=b"{" + b" " * (2 << 20) + b"}",
                    headers={"content-type": "application/json"},
                ),
                413,
            ),
        }
    for what, (response, status) in cases.items():
        assert response.status_code == status, (what, response.text)
        body = response.json()
        assert body["status"] == status and body["reason"], what
        assert "Traceback" not in response.text and 'File "' not in response.text, what


def test_the_status_page_moves_with_the_incident(served: Served) -> None:
    with served.client(headers=served.auth) as c:
        opened = c.post("/api/v1/incidents", json={"title": "Web app blank", "severity": "P0"}).json()
        inc = opened["incident"]["id"]
        records.attach(served.store, opened["incident"]["number"], "triage", _frontend_down(), actor="t")
        during = {x["name"]: x["status"] for x in c.get("/status.json").json()["components"]}
        badge = c.get("/badge/Web app.svg")
        c.post(f"/api/v1/incidents/{inc}/resolve", json={"message": "fixed"})
        c.post(f"/api/v1/incidents/{served.ids['slow']}/resolve", json={})
        c.post(f"/api/v1/incidents/{served.ids['seqscan']}/resolve", json={})
        after = c.get("/status.json").json()
        page = c.get("/status")
    assert during["Web app"] != "operational"
    assert badge.headers["content-type"].startswith("image/svg+xml") and "Web app" in badge.text
    assert {x["status"] for x in after["components"]} == {"operational"} and after["status"][
        "indicator"
    ] == "none"
    assert page.status_code == 200 and "All systems operational" in page.text
    assert "public." not in page.text and "127.0.0.1" not in page.text  # nothing internal on the public page


def _frontend_down() -> dict:
    return {
        "severity": "P0",
        "severity_reason": "frontend unreachable",
        "issue_types": ["network"],
        "kpis": {},
        "findings": [
            {
                "code": "frontend.slow_assets",
                "level": "critical",
                "issue_type": "network",
                "subject": "frontend",
                "title": "the frontend does not load",
                "evidence": {},
                "actions": [],
            }
        ],
        "causes": [],
        "probes": {},
    }
