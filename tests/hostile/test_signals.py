"""SIGINT and SIGTERM end long commands within a second, with 130 / 143 and the partial result (#12)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from servers import Hostile

from hostile import Run, start


def _signalled(proc, sig: int, when) -> Run:
    deadline = time.monotonic() + 30
    while not when() and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=20)
    except Exception:
        proc.kill()
        out, err = proc.communicate()
        err += "\n[hung after the signal]"
    return Run(tuple(proc.args), proc.returncode, out, err, time.monotonic() - sent)


def _quick(run: Run):
    return lambda: None if run.took_s < 1.0 + 1.0 else f"ended {run.took_s:.1f} s after the signal"


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_load_ends_with_its_partial_result(attempt, tmp_path: Path, sig, code):
    out = tmp_path / "partial.json"
    with Hostile("ok") as srv:
        proc = start("load", srv.url + "/x", "-d", "60s", "-c", "2", "-o", str(out))
        run = _signalled(proc, sig, lambda: srv.requests > 50)
    attempt.check(
        run,
        codes={code},
        verify=[
            _quick(run),
            lambda: (
                None if out.exists() and json.loads(out.read_text())["interrupted"] else "no partial file"
            ),
            lambda: None if "leaked semaphore" not in run.stderr else "a semaphore warning",
        ],
    )


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_capacity_ends_within_a_second(attempt, sig, code):
    with Hostile("ok") as srv:
        proc = start(
            "capacity",
            srv.url + "/x",
            "--slo",
            "p95<1s",
            "--step-duration",
            "5s",
            "--max-duration",
            "60s",
            "--no-plot",
            "--json",
        )
        run = _signalled(proc, sig, lambda: srv.requests > 30)
    attempt.check(run, codes={code}, verify=[_quick(run)])


def test_triage_ends_on_sigterm(attempt, tmp_path: Path):
    with Hostile("never") as srv:
        cfg = tmp_path / "perfbook.toml"
        cfg.write_text(f'[http]\nbase_url = "{srv.url}"\ntimeout_s = 30\n[frontend]\nurl = ""\n')
        proc = start("triage", "--config", str(cfg), "--only", "http,metrics", "--window", "20s", "--json")
        run = _signalled(proc, signal.SIGTERM, lambda: srv.requests >= 2)
    attempt.check(run, codes={143}, verify=[_quick(run)])


def test_stress_postgres_ends_on_sigterm(attempt, pg_dsn):
    proc = start("stress", "postgres", "--dsn", pg_dsn, "-c", "2", "-d", "60s")
    time.sleep(3)
    run = _signalled(proc, signal.SIGTERM, lambda: True)
    attempt.check(run, codes={143}, verify=[_quick(run)])
