"""During a hang the triage spinner names the probes still running and what is left of their budget."""

from __future__ import annotations

import socket
import threading
import time

from perfbook.cli.triage_cmd import Waiting
from perfbook.config import load_config
from perfbook.triage import triage


def test_the_spinner_names_the_probe_that_hangs():
    hang = socket.socket()  # listens and never answers: the HTTP probe waits until its timeout
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    port = hang.getsockname()[1]
    cfg = load_config(
        None, env={"PERFBOOK_HTTP_BASE_URL": f"http://127.0.0.1:{port}", "PERFBOOK_HTTP_TIMEOUT_S": "2"}
    )
    waiting, seen = Waiting(), []
    runner = threading.Thread(
        target=lambda: seen.append(
            triage(
                cfg,
                window_s=0.2,
                only=["http", "host"],
                on_probe_done=waiting.done,
                on_probe_start=waiting.start,
            )
        )
    )
    runner.start()
    try:
        deadline = time.monotonic() + 20
        texts = []
        while runner.is_alive() and time.monotonic() < deadline:
            texts.append(str(waiting))
            time.sleep(0.05)
        runner.join(20)
    finally:
        hang.close()
    assert seen, "triage did not finish"
    during = [t for t in texts if t.startswith("triage: waiting for")]
    assert any("http (" in t and "s left)" in t for t in during), texts[-5:]
    # host finishes after its window; the hanging http probe is then the only one named
    assert any(
        t.startswith("triage: waiting for http (") and "host" not in t and "1 of 2 probes done" in t
        for t in during
    ), during[-5:]


def test_remaining_budget_counts_down_on_the_clock():
    now = [100.0]
    w = Waiting(clock=lambda: now[0])
    w.start("postgres", 5.0)
    w.start("redis", 2.0)
    assert str(w) == "triage: waiting for postgres (5.0 s left), redis (2.0 s left) — 0 of 2 probes done"
    now[0] += 3.0
    w.done("postgres", None)
    assert str(w) == "triage: waiting for redis (at its budget) — 1 of 2 probes done"


def test_capacity_progress_names_the_step_and_its_rate():
    from perfbook.cli.progress import StepProgress

    now = [50.0]
    p = StepProgress(clock=lambda: now[0])
    assert str(p) == "capacity: starting…"
    p.start(3, 400.0, 5.0)
    now[0] += 2.1
    assert str(p) == "capacity: step 3, testing 400 rps for 5 s (2.1 s in)"
