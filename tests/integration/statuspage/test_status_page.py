"""The status page over an incident's life: operational → degraded_performance → operational.

status.json is asserted; index.html is opened in Chromium (Playwright) at a phone's width and
checked for each component's state and the update text; a screenshot of each stage is kept
under the test's tmp dir (PERFBOOK_DOCS_SCREENSHOTS=DIR also copies the degraded one there).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lab_recordings import lab_report
from perfbook.config import Config
from perfbook.incidents import records
from perfbook.notify.public import find_leaks, internals_of
from perfbook.notify.send import notify
from perfbook.statuspage import rebuild_if_configured
from perfbook.store import Store
from playwright_chromium import chromium

COMPONENTS = [
    {"name": "API", "endpoints": ["/api/v1/*"], "layers": ["postgres"]},
    {"name": "Web app", "layers": ["frontend"]},
    {"name": "Realtime", "layers": ["websocket"]},
]


@pytest.fixture
def site(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    cfg = Config.model_validate(
        {
            "status": {"dir": str(tmp_path / "site"), "title": "Example status", "components": COMPONENTS},
            "notify": {"service": "Example"},
        }
    )
    yield store, cfg, tmp_path / "site"
    store.close()


def _read(site_dir: Path) -> dict:
    return json.loads((site_dir / "status.json").read_text())


def _states(doc: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in doc["components"]}


def test_operational_degraded_operational_over_an_incidents_life(site, tmp_path: Path) -> None:
    store, cfg, out = site
    assert rebuild_if_configured(store, cfg) == [
        str(out / n) for n in ("status.json", "index.html", "status.txt")
    ]
    assert {(out / n).stat().st_mode & 0o777 for n in ("status.json", "index.html", "status.txt")} == {0o644}
    doc = _read(out)
    assert doc["status"]["state"] == "operational" and doc["incidents"] == [] and doc["history"] == []
    assert set(_states(doc).values()) == {"operational"}
    assert "Service Status: OPERATIONAL" in (out / "status.txt").read_text()

    report = lab_report("seqscan")
    report["severity"] = "P2"  # as if the window had caught the slow search (the recording is just under)
    inc = records.open_incident(
        store, title="Users search slow: seq scans of public.users", actor="ana", severity="P2", report=report
    )
    notify(store, cfg, inc.number, "detected", actor="ana", message="We are adding capacity to search.")
    doc = _read(out)
    assert doc["status"] == {
        "indicator": "minor",
        "state": "degraded_performance",
        "description": "Degraded performance",
    }
    assert _states(doc) == {
        "API": "degraded_performance",
        "Web app": "operational",
        "Realtime": "degraded_performance",
    }
    (open_inc,) = doc["incidents"]
    assert open_inc["id"] == inc.id and open_inc["status"] == "investigating"
    assert open_inc["name"] == "Slower responses than usual on API and Realtime"  # never the internal title
    assert "We are adding capacity to search." in open_inc["incident_updates"][0]["body"]
    text = "\n".join((out / n).read_text() for n in ("status.json", "index.html", "status.txt"))
    assert find_leaks(text, internals_of([report])) == []
    assert "public.users" not in text and "seq scan" not in text and "127.0.0.1" not in text
    _check_in_chromium(
        out,
        tmp_path / "degraded.png",
        {"API": "Degraded performance", "Web app": "Operational"},
        "We are adding capacity to search.",
    )

    records.resolve(store, inc.number, actor="ana")
    notify(store, cfg, inc.number, "resolved", actor="ana")
    doc = _read(out)
    assert doc["status"]["state"] == "operational" and set(_states(doc).values()) == {"operational"}
    assert doc["incidents"] == [] and [h["id"] for h in doc["history"]] == [inc.id]
    assert doc["history"][0]["incident_updates"][0]["status"] == "resolved"
    _check_in_chromium(
        out,
        tmp_path / "resolved.png",
        {"API": "Operational", "Realtime": "Operational"},
        "everything works normally again",
    )


def _check_in_chromium(out: Path, shot: Path, states: dict[str, str], update_text: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.goto((out / "index.html").as_uri())
        for name, label in states.items():
            assert page.locator(f'[data-component="{name}"]').inner_text() == label
        assert update_text in page.locator("main").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        assert page.locator("script").count() == 0
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    docs = os.environ.get("PERFBOOK_DOCS_SCREENSHOTS")
    if docs and shot.name == "degraded.png":
        shutil.copy(shot, Path(docs) / "status-page.png")


def test_a_page_that_would_name_internals_is_not_written(site) -> None:
    store, cfg, out = site
    report = lab_report("seqscan")
    records.open_incident(store, title="x", actor="ana", severity="P2", report=report)
    bad = cfg.model_copy(update={"status": cfg.status.model_copy(update={"title": "public.users status"})})
    from perfbook.notify.public import LeakError

    with pytest.raises(LeakError):
        rebuild_if_configured(store, bad)
    assert not out.exists()
