"""The capacity plot tells the truth: plain-number axes, the legend outside the data, no made-up knee."""

from __future__ import annotations

import re

import pytest

from perfbook.load.plot import save_png, terminal_plot


def _report(knee: float | None, failed: float | None, reason: str) -> dict:
    rates = [50.0, 100.0, 200.0, 400.0, 800.0, 1600.0]
    steps = [
        {
            "rate_rps": r,
            "error_rate": 0.0,
            "latency": {"p50_s": 0.002 + r / 1e6, "p95_s": 0.004 + r / 5e5, "p99_s": 0.006 + r / 2e5},
        }
        for r in rates
    ]
    return {
        "target": "http://127.0.0.1:8001/health",
        "slo": ["p95<200ms"],
        "knee_rps": knee,
        "failed_rps": failed,
        "reason": reason,
        "steps": steps,
    }


def test_terminal_plot_reads_without_colour_at_80_columns():
    pytest.importorskip("plotext")
    text = terminal_plot(_report(1600.0, None, "met the SLO up to --max-rate 1600 rps"), width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not re.search(r"\d\.\de\d", text), "scientific x ticks"
    assert "1,600" in text and " 50 " in text.replace("┬", " ")
    # the legend is its own line under the plot, never painted over the data
    legend = lines.index("• p50   + p95   x p99")
    assert (
        "no knee: SLO held up to 1,600 rps (--max-rate)" in " ".join(lines[legend:]) and "knee at" not in text
    )


def test_png_title_says_no_knee_when_the_slo_held(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "knee.png"
    save_png(_report(1600.0, None, "met the SLO up to --max-rate 1600 rps"), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
