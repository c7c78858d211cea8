"""The HTML reports: ``triage --html`` against a real HTTP server, and an incident's postmortem (md and html).

Both are opened in Chromium (Playwright) with every network request refused: a self-contained
page needs none. Screenshots are kept under the test's tmp dir (PERFBOOK_DOCS_SCREENSHOTS=DIR
also copies the postmortem's there).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from probes.servers import AppServer, Route

from lab_recordings import lab_report
from perfbook.config import Config
from perfbook.incidents import records
from perfbook.incidents.model import Status
from perfbook.notify.context import load_state
from perfbook.report.postmortem import render_postmortem
from perfbook.store import Store
from playwright_chromium import chromium


def _open_offline(browser, path: Path, shot: Path):
    """The page at ``path`` with every request that is not the file itself or a data: URI refused."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    fetched: list[str] = []

    def guard(route) -> None:
        fetched.append(route.request.url)
        route.abort() if not route.request.url.startswith(("file:", "data:")) else route.continue_()

    page.route("**/*", guard)
    page.goto(path.as_uri())
    page.screenshot(path=str(shot), full_page=True)
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []
    return page


def test_triage_html_is_one_self_contained_page(perfbook, tmp_path: Path) -> None:
    with AppServer(routes={"/api/v1/slow": Route(delay_s=2.3)}) as app:
        cfg = tmp_path / "perfbook.toml"
        cfg.write_text(
            f'[http]\nbase_url = "{app.url}"\nendpoints = ["/health", "/api/v1/slow"]\n[frontend]\nurl = ""\n'
        )
        out = tmp_path / "triage.html"
        result = perfbook(
            "triage",
            "--config",
            str(cfg),
            "--only",
            "http",
            "--window",
            "1s",
            "--html",
            str(out),
            "--json",
            "--fail-on",
            "never",
        )
    assert result.exit_code == 0, result.stderr
    report = result.json
    html = out.read_text()
    assert "<script" not in html and "<link" not in html
    with chromium() as browser:
        page = _open_offline(browser, out, tmp_path / "triage.png")
        text = page.locator("main").inner_text()
        assert f"perfbook triage: {report['severity']}" in text
        assert report["severity_reason"] in text
        assert "http.slow_response" in text and "/api/v1/slow" in text
        assert "p95 response time" in text and "target" in text


def _lab_incident(store: Store) -> int:
    """A lab incident from recorded lab triages: slow agents API → fix applied → healthy again → load met."""
    slow = lab_report("slow")
    healthy = lab_report("healthy")
    inc = records.open_incident(store, title="Agents API slow", actor="ana", severity="P2", report=slow)
    records.set_status(
        store, inc.number, Status.IDENTIFIED, actor="ana", message="slow handler in the agents API"
    )
    fix = {
        "action": "process.restart",
        "outcome": {"status": "done", "figures": {"p95_s": {"before": 3.2, "after": 0.5}}},
        "verify": {
            "kpis": {"p95_s": {"before": 3.2, "after": 0.5}},
            "gone": ["http.slow_response:/api/v1/agents"],
        },
    }
    records.attach(store, inc.number, "fix", fix, actor="ana")
    records.attach(store, inc.number, "triage", healthy, actor="ana")
    load = {
        "rps": 812.4,
        "latency": {"p95_s": 0.12},
        "error_rate": 0.0,
        "requests": 8124,
        "slo": [{"met": True}],
        "interrupted": False,
    }
    records.attach(store, inc.number, "load", load, actor="ana")
    records.add_note(store, inc.number, "alert on the agents API's p95", actor="ana", followup=True)
    records.resolve(store, inc.number, actor="ana")
    return inc.number


def test_postmortem_holds_every_step_a_plot_and_renders_in_chromium(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    try:
        number = _lab_incident(store)
        state = load_state(store, number)
        now = dt.datetime.now(dt.UTC)
        md = render_postmortem(state, Config(), "md", now=now)
        html = render_postmortem(state, Config(), "html", now=now)
    finally:
        store.close()
    for event in state.events:  # every timeline step, in both forms
        assert event.summary.replace("|", "\\|") in md
        assert (
            event.summary.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("'", "&#39;")
            .replace('"', "&#34;")
            in html
        )
    for section in (
        "Summary",
        "Impact",
        "Timeline",
        "Root causes",
        "Fixes, before and after",
        "Load results",
        "KPIs over the incident",
        "Checklist",
        "Follow-ups",
    ):
        assert f"## {section}" in md and f">{section}</h2>" in html
    assert "alert on the agents API's p95" in md and "812 rps" in md and "| p95_s | 3.2 | 0.5 |" in md
    assert "![KPIs" in md and "data:image/png;base64," in md
    path = tmp_path / "postmortem.html"
    path.write_text(html)
    with chromium() as browser:
        page = _open_offline(browser, path, tmp_path / "postmortem.png")
        assert page.locator("h1").inner_text() == "Postmortem INC-1: Agents API slow"
        plot = page.locator("img.plot")
        assert plot.count() == 1 and plot.evaluate("img => img.naturalWidth") > 300
        text = page.locator("main").inner_text()
        assert "Performance issue identified and classified" in text and "from triage #1" in text
        assert "5. Resolution plan developed" in text  # still open: a follow-up
    docs = os.environ.get("PERFBOOK_DOCS_SCREENSHOTS")
    if docs:
        shutil.copy(tmp_path / "postmortem.png", Path(docs) / "postmortem.png")
