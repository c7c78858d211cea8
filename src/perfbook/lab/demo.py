"""``perfbook lab demo`` (what ``make run`` runs): a lab under traffic, a fault maybe, and triage of it.

Triage runs as a subprocess, as a user would run it, with the lab's perfbook.toml and with every
PERFBOOK_* setting removed from its environment, so it can only ever look at the lab.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfbook.lab import client, labconfig, supervisor
from perfbook.lab.state import LabState
from perfbook.lab.traffic import TrafficPlan
from perfbook.units import parse_duration

KEEP_ENV = ("PERFBOOK_DEBUG",)
# Faults whose figures need more than the default window: Redis' hit rate is judged on >= 100
# lookups (about 5 s of the lab's traffic).
MIN_WINDOW_S = {"nocache": 6.0}


@dataclass
class DemoOptions:
    state_dir: Path
    fault: str | None = None
    keep: bool = False
    window: str = "3s"
    port: int = 8001
    frontend_port: int = 3000


def triage_command(config: Path, window: str, extra: list[str] | None = None) -> list[str]:
    """The triage command line the demo runs (and prints, so it can be run again by hand)."""
    return [
        sys.executable,
        "-m",
        "perfbook",
        "triage",
        "--config",
        str(config),
        "--fail-on",
        "never",
        "--window",
        window,
        *(extra or []),
    ]


def triage_env() -> dict[str, str]:
    """This environment less PERFBOOK_* settings that could point triage at another stack."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_") or k in KEEP_ENV}


def run_demo(opts: DemoOptions, say: Callable[[str], None]) -> int:
    """Run the demo; the triage subprocess' exit code. Stops a lab it started unless ``keep``."""
    state = LabState.load(opts.state_dir)
    started_here = state is None or not supervisor.running(state)
    if started_here:
        say(f"starting the lab in {opts.state_dir} (PostgreSQL, Redis, backend, frontend, traffic) …")
        state = supervisor.up(
            supervisor.LabOptions(
                opts.state_dir, port=opts.port, frontend_port=opts.frontend_port, traffic=True
            )
        )
    else:
        assert state is not None  # loaded and running
        say(f"using the lab already running from {opts.state_dir} ({state.backend_url})")
        if "gen" not in state.processes:
            supervisor.start_traffic(state, TrafficPlan.rate_rps)
    assert state is not None
    try:
        say(f"backend {state.backend_url}, frontend {state.frontend_url}; waiting for traffic …")
        client.wait_for_traffic(state)
        if opts.fault:
            client.switch_fault(state, opts.fault, on=True)
            say(f"fault {opts.fault} is on")
        window = opts.window
        if opts.fault in MIN_WINDOW_S and parse_duration(window) < MIN_WINDOW_S[opts.fault]:
            window = f"{MIN_WINDOW_S[opts.fault]:g}s"
            say(f"window {window}: {opts.fault} needs at least that much traffic to judge")
        cmd = triage_command(labconfig.config_path(state), window)
        say("$ perfbook " + " ".join(cmd[3:]))
        return subprocess.run(cmd, env=triage_env()).returncode
    finally:
        if opts.fault and (opts.keep or not started_here):
            say(f"fault {opts.fault} stays on: perfbook lab fault {opts.fault} off")
        if started_here and not opts.keep:
            supervisor.down(opts.state_dir)
            say("lab stopped")
        elif started_here:
            say("lab kept running: perfbook lab status | perfbook lab down")
