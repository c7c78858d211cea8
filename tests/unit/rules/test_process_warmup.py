"""``process.memory_growth`` judges a process past its warm-up; a young one's growth is told, not a leak."""

from __future__ import annotations

from perfbook.config import Config
from perfbook.evidence.process import ProcessEvidence, WatchedProcess
from perfbook.model import Evidence, Level
from perfbook.rules import process as rules

MIB = 1024 * 1024
TS = [round(i * 0.2, 1) for i in range(11)]
RSS = [int((100 + 600 / 60 * t) * MIB) for t in TS]  # 600 MB/min, a straight line


def growth(age_s: float | None, cfg: Config = Config()):
    proc = WatchedProcess(4242, "node", "node server.js", "node", 3.0, RSS[-1], TS, RSS, age_s=age_s)
    ev = {"process": Evidence("process", "ok", 2.0, data=ProcessEvidence(["node"], [], 2.0, [proc]))}
    return [f for f in rules.evaluate(ev, cfg) if f.code == "process.memory_growth"]


def test_a_process_seconds_old_is_told_young_not_leaking():
    (f,) = growth(age_s=8.0)
    assert f.level is Level.INFO and f.low_confidence
    assert "started 8 s ago, within its 120 s warm-up" in f.title
    assert f.evidence["age_s"] == 8.0 and f.evidence["warmup_s"] == 120.0


def test_a_process_past_its_warmup_or_of_unknown_age_is_judged():
    for age_s in (600.0, None):
        (f,) = growth(age_s=age_s)
        assert f.level is Level.WARNING and not f.low_confidence and "warm-up" not in f.title


def test_the_warmup_is_configured():
    cfg = Config.model_validate({"process": {"warmup_s": 5}})
    (f,) = growth(age_s=8.0, cfg=cfg)
    assert f.level is Level.WARNING and "warm-up" not in f.title
