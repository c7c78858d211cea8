"""The triage report as a person reads it on a 60-, 80- and 160-column terminal (no goldens: properties).

The stack is down for real (nothing listens on the ports), so every unreachable layer says why.
"""

from __future__ import annotations

import re

import pytest

from perfbook import services

# Lines that may start at column 0: a section title, a numbered cause, a finding's level, a panel
# or table border, the loop-lag note. Anything else at column 0 is a wrapped line restarting there.
BLOCK_START = re.compile(
    r"^(Causes|Findings|KPIs|Probes|Also seen|no findings|\d+\. \d+% |critical |warning |info "
    r"|perfbook's own|[╭╰━ ])"
)
# Inside the banner: the severity line and the labels that start each of its lines.
PANEL_START = re.compile(
    r"^│ ( (P\d|OK|no verdict) |likely cause|possible cause|no single|issue types|targets)"
)


@pytest.fixture(scope="module")
def down_stack() -> dict[str, str]:
    http, pg, redis = (services.free_port() for _ in range(3))
    return {
        "PERFBOOK_HTTP_BASE_URL": f"http://127.0.0.1:{http}",
        "PERFBOOK_POSTGRES_DSN": f"postgresql://app:s3cret@127.0.0.1:{pg}/db",
        "PERFBOOK_REDIS_URL": f"redis://127.0.0.1:{redis}/0",
        "NO_COLOR": "1",
        "PERFBOOK_CONFIG": None,
    }


@pytest.mark.parametrize("width", [60, 80, 160])
def test_triage_report_fits_and_hangs_at_every_width(perfbook, down_stack, width, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = perfbook(
        "triage",
        "--window",
        "0.2s",
        "--only",
        "http,metrics,postgres,redis",
        env={**down_stack, "COLUMNS": str(width)},
    )
    assert result.exit_code == 3, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    for line in lines:
        if line.strip() and not line.startswith("│"):
            assert BLOCK_START.match(line), f"a wrapped line restarts at column 0: {line!r}"
        elif line.startswith("│") and line[1:].strip() and not line.startswith("│   "):
            assert PANEL_START.match(line), f"a wrapped banner line restarts at its edge: {line!r}"
    # continuation lines of a wrapped summary sit under its text, not under its number
    port = down_stack["PERFBOOK_HTTP_BASE_URL"].rsplit(":", 1)[1]
    reason = f"connection refused 127.0.0.1:{port}"
    # said in the banner, the cause, the finding and the probe table (once, for both probes) — no more
    assert "".join(lines).replace(" ", "").count(reason.replace(" ", "")) <= 4
    assert any(line.startswith(" http,") for line in lines), "http and metrics share one probe row"
    assert not any("evidence:" in line and "connection refused" in line for line in lines)
    texts = [line.strip() for line in lines if len(line.strip()) > 30]
    assert len(texts) == len(set(texts)), [t for t in texts if texts.count(t) > 1]
