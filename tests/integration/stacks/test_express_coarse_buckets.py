"""An Express service instrumented by express-prom-bundle (npm), whose default buckets are
0.003 / 0.03 / 0.1 / 0.3 / 1.5 / 10 s: a route that takes 2.5 s is "between 1.5 s and 10 s" in its
histogram. Interpolating inside that bucket said p95 9.57 s and paged P1; triage must show the
range, judge from perfbook's own timed requests of the route (2.5 s: P2), and say how high it could be.
"""

from __future__ import annotations

import time

import pytest

from .apps import express_app, traffic
from .conftest import start, write_config

WINDOW_S = 6  # perfbook's one-at-a-time requests of a 2.5 s route: 3 of them in the window


@pytest.fixture(scope="module")
def express() -> str:
    """The Express service: /slow takes 2.5 s, /api/items/:id 1.2 s (labelled /api/items/#val)."""
    yield from start(express_app(slow_ms=2500, item_ms=1200))


def test_a_route_in_a_coarse_bucket_is_a_range_judged_from_perfbooks_timed_requests(
    perfbook, tmp_path, express
):
    cfg = write_config(
        tmp_path,
        f"""
[http]
base_url = "{express}"
endpoints = ["/slow", "/api/items/7"]
min_window_requests = 5

[frontend]
url = ""
""",
    )
    markdown, html = tmp_path / "report.md", tmp_path / "report.html"
    with traffic([f"{express}/slow"], concurrency=8), traffic([f"{express}/api/items/7"], concurrency=3):
        time.sleep(1.0)  # requests in flight before the first scrape
        result = perfbook(
            "triage",
            "--config",
            cfg,
            "--only",
            "http,metrics",
            "--window",
            f"{WINDOW_S}s",
            "--json",
            "--markdown",
            str(markdown),
            "--html",
            str(html),
            "--fail-on",
            "never",
        )
    assert result.exit_code == 0, result.stderr
    doc = result.json
    kpis = doc["kpis"]
    # the figure: perfbook's own timed requests of /slow, inside the histogram's 1.5–10 s bucket
    assert kpis["p95_subject"] == "/slow" and kpis["p95_source"] == "http"
    assert kpis["p95_range_s"] == [1.5, 10.0]
    assert 2.4 <= kpis["p95_s"] < 4.0, kpis
    assert doc["severity"] == "P2", doc["severity_reason"]  # not P1 from an interpolated 9.57 s
    assert "the metrics only say between 1.50 s and 10.00 s" in doc["severity_reason"]
    slow = {f["subject"]: f for f in doc["findings"] if f["code"] == "http.slow_response"}
    assert slow["/slow"]["value"] == kpis["p95_s"] and slow["/slow"]["evidence"]["p95_range_s"] == [1.5, 10.0]
    assert set(slow["/slow"]["evidence"]["sources"]) == {"metrics", "http"}
    metrics_side = slow["/slow"]["evidence"]["sources"]["metrics"]
    assert metrics_side["p95_s"] == 1.5 and metrics_side["requests"] >= 5  # the lower bound, not 9.57
    # one subject per route: perfbook's /api/items/7 is express-prom-bundle's /api/items/#val
    assert "/api/items/7" not in slow
    items = slow["/api/items/#val"]
    assert items["evidence"]["sources"]["http"]["path"] == "/api/items/7"
    assert items["evidence"]["p95_range_s"] == [0.3, 1.5] and 1.1 <= items["value"] < 2.0
    assert not any(9.0 < (f["value"] or 0) < 10.0 for f in doc["findings"])
    for report in (markdown, html):
        text = report.read_text()
        assert "between 1.50 s and 10.00 s" in text and "9.5" not in text


def test_without_a_precise_figure_the_range_sets_severity_from_its_lower_bound(perfbook, tmp_path, express):
    # perfbook times only the fast route: the app's histogram alone knows /slow, as "1.5 s to 10 s"
    cfg = write_config(
        tmp_path,
        f"""
[http]
base_url = "{express}"
endpoints = ["/health"]
min_window_requests = 5

[frontend]
url = ""
""",
    )
    with traffic([f"{express}/slow"], concurrency=8):
        time.sleep(1.0)
        result = perfbook(
            "triage", "--config", cfg, "--only", "http,metrics", "--window", "4s", "--fail-on", "never"
        )
        as_json = perfbook(
            "triage",
            "--config",
            cfg,
            "--only",
            "http,metrics",
            "--window",
            "4s",
            "--json",
            "--fail-on",
            "never",
        )
    assert result.exit_code == 0, result.stderr
    doc = as_json.json
    assert (doc["kpis"]["p95_s"], doc["kpis"]["p95_range_s"], doc["kpis"]["p95_source"]) == (
        1.5,
        [1.5, 10.0],
        "metrics",
    )
    assert doc["severity"] == "P3"  # the lower bound, 1.5 s
    assert "could be as high as 10.00 s (P1)" in doc["severity_reason"]
    out = " ".join(result.stdout.split())  # the terminal report, rewrapped
    assert "between 1.50 s and 10.00 s" in out and "could be as high as 10.00 s" in out
    assert "9.5" not in out
