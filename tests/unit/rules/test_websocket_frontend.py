"""The websocket and frontend rules on recorded evidence (pure: no servers)."""

import pytest

from perfbook.config import Config
from perfbook.evidence.frontend import AssetTiming, FrontendEvidence
from perfbook.evidence.websocket import WebsocketEvidence
from perfbook.model import Evidence, Level
from perfbook.rules import frontend, websocket

CFG = Config()
WS_URL = "ws://127.0.0.1:8001/ws"


def ws_ev(status="ok", **fields):
    data = WebsocketEvidence(url=WS_URL, mode="ping", connected=True, samples=10, **fields)
    return {"websocket": Evidence("websocket", status, 2.0, data=data)}


@pytest.mark.parametrize(
    ("p95_ms", "codes"), [(None, []), (40.0, []), (100.0, []), (100.5, ["ws.latency_high"])]
)
def test_ws_latency_is_judged_on_p95_against_ws_rtt_ms(p95_ms, codes):
    found = websocket.evaluate(ws_ev(rtt_p95_ms=p95_ms, rtt_p50_ms=20.0), CFG)
    assert [f.code for f in found] == codes
    if found:
        assert (found[0].value, found[0].threshold, found[0].unit, found[0].level) == (
            100.5,
            100.0,
            "ms",
            Level.WARNING,
        )
        assert not found[0].low_confidence and found[0].actions[0].manual


def test_ws_latency_from_few_samples_is_low_confidence():
    ev = ws_ev(rtt_p95_ms=500.0)
    ev["websocket"].data.samples = 2
    (f,) = websocket.evaluate(ev, CFG)
    assert f.low_confidence


def test_ws_unreachable_with_data_without_data_and_not_when_skipped():
    refused = WebsocketEvidence(url=WS_URL, mode="ping", connected=False, error="connect_refused")
    ev = Evidence("websocket", "unavailable", 0.01, reason="connection refused 127.0.0.1:8001", data=refused)
    (f,) = websocket.evaluate({"websocket": ev}, CFG)
    assert (f.code, f.subject, f.level) == ("ws.unreachable", WS_URL, Level.WARNING)
    assert "connection refused" in f.title
    budget = Evidence("websocket", "unavailable", 7.0, reason="no answer within 7.0 s")
    cfg = Config.model_validate({"websocket": {"url": WS_URL}})
    assert [f.code for f in websocket.evaluate({"websocket": budget}, cfg)] == ["ws.unreachable"]
    assert (
        websocket.evaluate(
            {"websocket": Evidence("websocket", "skipped", 0.0, reason="no [websocket] url")}, CFG
        )
        == []
    )
    assert websocket.evaluate({}, CFG) == []


def page(**fields):
    base = dict(
        url="http://localhost:3000/",
        page_status=200,
        page_s=0.05,
        page_bytes=20_000,
        assets_found=3,
        assets_fetched=3,
        total_bytes=100_000,
    )
    base.update(fields)
    return {"frontend": Evidence("frontend", "ok", 0.4, data=FrontendEvidence(**base))}


def asset(path, duration_s, status=200, error=None, size=1000):
    return AssetTiming(
        url="http://localhost:3000" + path,
        kind="script",
        status=status,
        size_bytes=size,
        duration_s=duration_s,
        error=error,
    )


def test_a_healthy_page_has_no_finding():
    assert frontend.evaluate(page(slowest=[asset("/a.js", 0.2)]), CFG) == []


def test_slowest_asset_over_asset_s():
    (f,) = frontend.evaluate(page(slowest=[asset("/big.js", 1.7), asset("/a.js", 0.2)]), CFG)
    assert (f.code, f.level, f.value, f.threshold, f.unit) == (
        "frontend.slow_assets",
        Level.WARNING,
        1.7,
        1.0,
        "s",
    )
    assert "slowest asset /big.js takes 1.70 s (limit 1 s)" in f.title
    assert f.evidence["slowest"][0]["url"].endswith("/big.js")
    assert "/big.js" in f.actions[0].manual


def test_page_weight_over_page_weight_mb():
    (f,) = frontend.evaluate(page(total_bytes=7_500_000), CFG)
    assert (f.value, f.threshold, f.unit) == (7.5, 5.0, "MB")
    assert [a.id for a in f.actions] == ["manual.inspect_assets", "manual.compress_assets"]


def test_a_timed_out_asset_weighs_its_declared_length():
    hero = AssetTiming(
        url="http://localhost:3000/hero.jpg",
        kind="image",
        status=200,
        size_bytes=8_000_000,
        declared_bytes=8_000_000,
        seen_bytes=950_000,
        duration_s=5.0,
        error="timeout",
    )
    (f,) = frontend.evaluate(page(total_bytes=8_020_000, slowest=[hero], heaviest=[hero], failed=[hero]), CFG)
    assert "1 of 3 assets fail (/hero.jpg timeout)" in f.title
    assert (
        "slowest asset /hero.jpg takes 5.00 s or more (timed out) (limit 1 s), 8.0 MB declared, 0.9 MB received"
        in f.title
    )
    assert "page weight 8.0 MB (limit 5 MB; heaviest /hero.jpg, 8.0 MB declared, 0.9 MB received)" in f.title
    assert f.evidence["heaviest"][0] | {"url": None} == {
        "url": None,
        "status": 200,
        "duration_s": 5.0,
        "size_bytes": 8_000_000,
        "declared_bytes": 8_000_000,
        "seen_bytes": 950_000,
        "error": "timeout",
    }


def test_failures_come_first_and_a_failing_page_is_critical():
    failed = [asset("/gone.js", 0.01, status=404), asset("/hang.js", 5.0, status=None, error="timeout")]
    (f,) = frontend.evaluate(page(failed=failed, slowest=[asset("/hang.js", 5.0)]), CFG)
    assert (f.level, f.value, f.unit) == (Level.WARNING, 2.0, "failed assets")
    assert "2 of 3 assets fail (/gone.js 404, /hang.js timeout)" in f.title
    (f,) = frontend.evaluate(page(page_status=502), CFG)
    assert f.level is Level.CRITICAL and f.title.endswith("the page answers 502")


def test_unreachable_or_skipped_frontend_is_only_a_probe_status():
    for status in ("unavailable", "skipped", "error"):
        assert frontend.evaluate({"frontend": Evidence("frontend", status, 0.0, reason="x")}, CFG) == []
