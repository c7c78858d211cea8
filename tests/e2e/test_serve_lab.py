"""``perfbook serve --lab`` over the running lab, in Chromium: a ``slow`` fault's finding on the Overview and off again.

The server runs as a user runs it (a subprocess, its own store under a private state dir, a write
token). A triage is stored through the API after each switch — what ``perfbook watch`` does on
its interval, until watch runs inside serve — and the Overview, open in the browser all along,
shows the finding within one refresh, without a reload; it clears once the fault is off (switched
from the Lab page).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perfbook.lab.state import LabState
from playwright_chromium import chromium

TOKEN = "e2e-serve-token-0123456789"
REFRESH_S = 2


@pytest.fixture
def serve(lab: LabState, tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}
    env.update(PERFBOOK_SERVE_TOKEN=TOKEN, XDG_STATE_HOME=str(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "perfbook",
            "serve",
            "--lab",
            "--lab-dir",
            str(lab.dir),
            "--listen",
            "127.0.0.1:0",
            "--refresh",
            str(REFRESH_S),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line + proc.stderr.read()
        yield url[0]
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _triage(url: str) -> dict:
    r = httpx.post(
        f"{url}/api/v1/triage", json={"window_s": 3}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()["report"]


def test_a_slow_fault_shows_on_the_overview_within_one_refresh(
    lab: LabState, serve: str, tmp_path: Path
) -> None:
    slow = "#findings li[data-code='http.slow_response']"
    with chromium() as browser:
        page = browser.new_page(base_url=serve, viewport={"width": 1280, "height": 900})
        _triage(serve)
        page.goto("/")
        assert page.locator(slow).count() == 0
        subprocess.run(
            [sys.executable, "-m", "perfbook", "lab", "fault", "slow", "on", "--dir", str(lab.dir)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        try:
            report = _triage(serve)
            assert "http.slow_response" in {f["code"] for f in report["findings"]}
            started = time.monotonic()
            page.locator(slow).wait_for(timeout=(REFRESH_S + 1) * 1000)
            assert time.monotonic() - started <= REFRESH_S + 1
            assert page.locator("section[aria-label='latest triage']").get_attribute("data-severity") in (
                "P0",
                "P1",
                "P2",
            )
            page.screenshot(path=str(tmp_path / "overview-slow.png"), full_page=True)
            page.goto("/signin?next=/lab")
            page.get_by_label("Your name").fill("e2e")
            page.get_by_label("Write token").fill(TOKEN)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Switch slow off").click()
            assert page.locator("tr[data-fault=slow] td").first.inner_text() == "off"
            page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
        finally:
            subprocess.run(
                [sys.executable, "-m", "perfbook", "lab", "fault", "slow", "off", "--dir", str(lab.dir)],
                capture_output=True,
                timeout=60,
            )
        page.goto("/")
        time.sleep(3.5)  # requests already held by the fault (delay_s 3) finish in the next window
        _triage(serve)
        page.locator(slow).wait_for(state="detached", timeout=(REFRESH_S + 1) * 1000)
