"""``process.memory_growth`` on a process seconds old (a Node or Python service warming up: JIT,
caches, pools) is no leak verdict: triage says the process is young. Past its warm-up the same
growth is the warning it always was. A real process, read by the real process probe (psutil)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from .conftest import write_config

GROW = """
import sys, time
blocks = []
while True:  # about 50 MB/s, touched so it is resident
    block = bytearray(1 << 20)
    block[::4096] = b"x" * 256
    blocks.append(block)
    if len(blocks) > 3000:
        sys.exit(0)
    time.sleep(0.02)
"""


@pytest.fixture
def warming_service(tmp_path) -> Iterator[str]:
    """A process just started that grows steadily; its own session, so it is not perfbook's child."""
    script = tmp_path / "warmupsvc.py"
    script.write_text(GROW)
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    time.sleep(0.5)
    try:
        yield "warmupsvc"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def growth(perfbook, tmp_path, pattern: str, warmup_s: float) -> tuple[dict, dict]:
    cfg = write_config(tmp_path, f'[process]\nmatch = ["{pattern}"]\nwarmup_s = {warmup_s}\n')
    result = perfbook("triage", "--config", cfg, "--only", "process", "--json", "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    doc = result.json
    (f,) = [f for f in doc["findings"] if f["code"] == "process.memory_growth"]
    return doc, f


def test_a_process_in_its_warmup_is_told_young_not_leaking(perfbook, tmp_path, warming_service):
    doc, f = growth(perfbook, tmp_path, warming_service, warmup_s=120)
    assert f["level"] == "info" and f["low_confidence"]
    assert f["evidence"]["age_s"] < 30 and "within its 120 s warm-up" in f["title"]
    assert not any("process.memory_growth" in k for c in doc["causes"] for k in c["findings"])


def test_past_the_configured_warmup_the_same_growth_is_a_warning(perfbook, tmp_path, warming_service):
    doc, f = growth(perfbook, tmp_path, warming_service, warmup_s=0)
    assert f["level"] == "warning" and not f["low_confidence"] and "warm-up" not in f["title"]
    assert f["value"] > 20
