"""The dashboard in Debian's Chromium (Playwright), against the real app over a seeded store and a private Redis.

What an on-call engineer does with it: find an incident opened elsewhere (the Python API, as the
CLI calls it) with its timeline; sign in, tick a checklist item and see it in the store and in
``incident show``'s JSON; watch the Overview pick up a new triage without a reload; plan a fix
and have the apply refused without the token, then applied with it; see the status page move
with the incident; get everywhere by keyboard, with every form field labelled. A screenshot of
every page is kept (under the test's tmp dir, or PERFBOOK_TEST_ARTIFACTS=DIR; PERFBOOK_DOCS_SCREENSHOTS=DIR
also gets the README's three).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TOKEN, Served, serving
from lab_recordings import lab_report
from perfbook.incidents import artifacts, records
from playwright_chromium import chromium

README_SHOTS = {
    "overview": "serve-overview.png",
    "incident": "serve-incident.png",
    "status": "serve-status.png",
}
LABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).map(el => el.name || el.id)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_server) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("browser")
    with serving(tmp, redis={"url": redis_server.url(3), "cache_db": 3, "queue_db": 4}) as s:
        yield s


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(os.environ.get("PERFBOOK_TEST_ARTIFACTS") or tmp_path_factory.mktemp("screens")) / "serve"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as b:
        yield b


@pytest.fixture
def tab(browser, site: Served):
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def snap(page, shots: Path, name: str) -> None:
    """Screenshot the page, and check what every page must have: labelled fields, one h1, no error."""
    assert page.evaluate(LABELLED) == [], f"{name}: form fields without a label"
    assert page.locator("h1").count() == 1
    snap_plain(page, shots, name)


def snap_plain(page, shots: Path, name: str) -> None:
    """Screenshot the page (the postmortem and the status page are perfbook's own documents, not the dashboard's)."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    docs = os.environ.get("PERFBOOK_DOCS_SCREENSHOTS")
    if docs and name in README_SHOTS:
        shutil.copy(shots / f"{name}.png", Path(docs) / README_SHOTS[name])


def sign_in(page, name: str = "erin") -> None:
    page.goto("/signin?next=/")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Write token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_text(f"signed in as {name}").is_visible()


def test_an_incident_opened_elsewhere_shows_with_its_timeline(tab, site: Served, shots: Path) -> None:
    inc = records.open_incident(
        site.store, title="Checkout errors", severity="P1", actor="cli-user", report=lab_report("errors")
    )
    records.add_note(site.store, inc.number, "payments provider degraded", actor="cli-user")
    tab.goto("/incidents")
    snap(tab, shots, "incidents")
    tab.get_by_role("link", name=inc.id, exact=True).click()
    rows = tab.locator("#timeline + table tbody tr")
    assert rows.first.inner_text().count(f"opened {inc.id}") == 1
    assert tab.locator("tr[data-kind=note]").filter(has_text="payments provider degraded").count() == 1
    assert tab.locator("tr[data-kind=triage]").count() == 1


def test_a_checklist_item_ticked_in_the_browser_is_in_the_record(tab, site: Served, shots: Path) -> None:
    number = int(site.ids["slow"].split("-")[1])
    sign_in(tab, "erin")
    tab.goto(f"/incidents/{site.ids['slow']}")
    tab.get_by_role("button", name="Tick item 18: Team debrief completed").click()
    tab.wait_for_url(f"**/incidents/{site.ids['slow']}#item-18")
    assert tab.locator("#item-18").get_attribute("data-state") == "done"
    snap(tab, shots, "incident")
    item = records.checklist_of(site.store, number)[17]
    assert (item.state, item.by) == ("done", "erin")
    with site.client() as c:  # the document `perfbook incident show --json` prints
        shown = c.get(f"/api/v1/incidents/{site.ids['slow']}").json()
    assert shown["checklist"][17]["state"] == "done" and shown["timeline"][-1]["summary"].startswith(
        "ticked 18"
    )
    tab.goto(f"/incidents/{site.ids['slow']}/postmortem")
    assert tab.get_by_text("Team debrief completed").count() >= 1
    snap_plain(tab, shots, "postmortem")


def test_the_overview_picks_up_a_new_triage_without_a_reload(tab, site: Served, shots: Path) -> None:
    tab.goto("/")
    snap(tab, shots, "overview")
    banner = tab.locator("section[aria-label='latest triage']")
    assert banner.get_attribute("data-severity") == "P1"  # the seeded errors triage
    assert tab.locator("#findings li[data-code='http.slow_response']").count() == 0
    artifacts.keep(site.store, "triage", lab_report("slow"), actor="watch")
    # refresh_s is 1 s: within two refreshes the new banner and its finding are there, with no navigation
    tab.locator("#findings li[data-code='http.slow_response']").wait_for(timeout=3000)
    assert banner.get_attribute("data-severity") == "P2"
    assert tab.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert tab.locator("tr[data-kpi=p95_s] svg.spark").count() == 2


def test_a_fix_applied_from_the_page_needs_the_token(tab, site: Served, shots: Path, redis_server) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url(3))
    client.mset({f"pbtest:{i}": "x" for i in range(5)})
    # keys the pattern leaves alone: a delete of every key in a db is refused whatever it spells
    client.mset({f"keep:{i}": "x" for i in range(10)})
    sign_in(tab, "fran")
    tab.goto("/fixes")
    snap(tab, shots, "fixes")
    tab.get_by_label("Action").select_option("redis.delete_pattern")
    tab.get_by_label("Parameters, as on the command line").fill("--pattern 'pbtest:*'")
    tab.get_by_role("button", name="Show the plan").click()
    assert tab.get_by_text("Plan (dry run)").is_visible()
    snap(tab, shots, "fix-plan")
    tab.get_by_label("I have read this plan").check()
    tab.get_by_role("button", name="Apply this plan").click()  # no token typed
    assert tab.get_by_role("alert").inner_text().startswith("applying a fix needs the write token")
    assert client.dbsize() == 15
    tab.go_back()
    tab.get_by_label("I have read this plan").check()
    tab.get_by_label("Write token (needed again to apply)").fill(TOKEN)
    tab.get_by_role("button", name="Apply this plan").click()
    assert tab.get_by_role("status").inner_text().startswith("done")
    assert client.dbsize() == 10 and not client.keys("pbtest:*")
    client.close()
    modes = [(e["mode"], e["outcome"]) for e in records_audit(site)]
    assert modes[:2] == [("apply", "done"), ("plan", "planned")]


def records_audit(site: Served) -> list[dict]:
    from perfbook.store import audit_history

    return audit_history(site.store, limit=5, action="redis.delete_pattern")


def test_every_page_by_keyboard(tab, site: Served, shots: Path) -> None:
    tab.goto("/")
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.textContent") == "Skip to content"
    tab.keyboard.press("Enter")
    assert tab.evaluate("document.activeElement.id") == "content"
    tab.goto("/")
    for _ in range(12):  # skip link, then the navigation in order
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.textContent") == "Load runs":
            break
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/load")
    snap(tab, shots, "load")
    for path, name in (
        (f"/load/{site.ids['load']}", "load-run"),
        (f"/load/compare?a={site.ids['load']}&b={site.ids['load2']}", "load-compare"),
        ("/triage", "triage"),
        (f"/triage/{site.ids['report']}", "triage-report"),
        ("/signin", "signin"),
    ):
        tab.goto(path)
        snap(tab, shots, name)
    tab.goto(f"/load/{site.ids['load']}")
    assert tab.locator("svg.plot polyline").count() == 2  # p50 and p99 over the run


def test_the_status_page_moves_with_the_incident(tab, site: Served, shots: Path) -> None:
    with site.client(headers=site.auth) as c:
        for inc in c.get("/api/v1/incidents").json()["incidents"]:
            c.post(f"/api/v1/incidents/{inc['id']}/resolve", json={})
        tab.goto("/status")
        assert tab.get_by_role("status").inner_text() == "All systems operational"
        opened = c.post(
            "/api/v1/incidents",
            json={
                "title": "Agents slow",
                "severity": "P2",
                "report_id": artifacts.keep(site.store, "triage", lab_report("slow"), actor="t"),
            },
        ).json()
        tab.reload()
        api_state = tab.locator("[data-component=API]").inner_text()
        snap_plain(tab, shots, "status")
        c.post(f"/api/v1/incidents/{opened['incident']['id']}/resolve", json={"message": "delay removed"})
    assert api_state != "Operational"
    tab.reload()
    assert tab.locator("[data-component=API]").inner_text() == "Operational"
