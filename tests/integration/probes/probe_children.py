"""Child processes with a known behaviour, for the host and process probe tests.

Each carries a unique tag in its command line so a test's ``[process] match`` finds only it.
They are killed (and reaped) when the context exits, whatever happens in the test.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psutil

from perfbook.config import Config
from perfbook.model import Evidence
from perfbook.probes.base import ProbeContext, run_probe

# The tag comes first, so it survives the 120-character cut of a command line in evidence.
BURN = "# {tag}\nimport time\nend = time.time() + {s}\nwhile time.time() < end:\n    pass\n"
GROW = (
    "# {tag}\nimport time\nheld = []\nend = time.time() + {s}\nwhile time.time() < end:\n"
    "    held.append(bytearray({mb} * 1024 * 1024))\n    time.sleep({every_s})\ntime.sleep(60)\n"
)
SLEEP = "# {tag}\nimport time\ntime.sleep({s})\n"
# A matched parent whose worker's command line does not match (as uvicorn --workers spawns them).
PARENT = (
    "# {tag}\nimport subprocess, sys, time\n"
    "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep({s})'])\ntime.sleep({s})\nw.kill()\n"
)


@contextlib.contextmanager
def fake_perfbook() -> Iterator[int]:
    """The pid of an idle process to pass as ``own_pid``, so the test's own children are not
    perfbook's (by default the pytest process is "perfbook" and its children are never findings)."""
    with child(SLEEP, s=60, tag=new_tag()) as proc:
        yield proc.pid


def new_tag() -> str:
    return f"perfbook-test-{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def child(code: str, new_session: bool = False, **fmt: object) -> Iterator[subprocess.Popen]:
    """Start ``python -c code`` (formatted with ``fmt``), wait until it runs, kill it afterwards."""
    proc = subprocess.Popen([sys.executable, "-c", code.format(**fmt)], start_new_session=new_session)
    try:
        _wait_running(proc.pid)
        yield proc
    finally:
        for p in _tree(proc.pid):
            with contextlib.suppress(psutil.Error):
                p.kill()
        proc.kill()
        proc.wait(timeout=5)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait_running(pid: int, timeout_s: float = 5.0) -> None:
    """Until the interpreter has started and exec'd (its command line is readable)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with contextlib.suppress(psutil.Error):
            if len(psutil.Process(pid).cmdline()) >= 3:
                return
        time.sleep(0.02)


async def run(probe: object, cfg: Config, window_s: float, **ctx: object) -> tuple[Evidence, float]:
    """Run ``probe`` as triage does (run_probe, budget window + 2 s); returns (evidence, wall seconds)."""
    budget_s = window_s + 2.0
    started = time.monotonic()
    context = ProbeContext(config=cfg, window_s=window_s, deadline=started + budget_s, **ctx)
    ev = await run_probe(probe, context, budget_s)
    return ev, time.monotonic() - started


def overhead_allowed_s() -> float:
    """How far past its window a probe may end: 0.3 s (the budget), more on an oversubscribed host,
    where the scheduler alone delays a wake-up by that much (this machine is shared)."""
    load_1m, cores = os.getloadavg()[0], os.cpu_count() or 1
    return 0.3 if load_1m <= 2 * cores else 0.8
