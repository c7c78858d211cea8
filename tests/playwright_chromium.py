"""Debian's Chromium driven by Playwright (no ``playwright install``): open a local file, check it, screenshot it.

with chromium() as browser:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(path.as_uri())
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from perfbook import services

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium; skips (fails in CI) when Playwright or the browser is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        _missing(f"playwright not installed: {err}")
    if not shutil.which(CHROMIUM):
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _missing(reason: str) -> None:
    if services.require_services():
        pytest.fail(reason)
    pytest.skip(reason)
