"""What the watch tests share: a config over a real HTTP app on 127.0.0.1, the store it names, the JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfbook.store import Store

RECIPIENT = "oncall@example.com"


def write_config(
    tmp_path: Path, base_url: str, *, smtp_port: int | None = None, rules: str = "", watch: str = ""
) -> Path:
    """perfbook.toml: the app's /api/v1/slow (a loaded machine answers /health slowly too), a store under
    tmp_path, e-mail to the inbox."""
    email = (
        (
            f'[notify]\nattempts = 1\nbackoff_s = 0\n[notify.email]\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {smtp_port}\nto = ["{RECIPIENT}"]\n'
        )
        if smtp_port
        else ""
    )
    path = tmp_path / "perfbook.toml"
    path.write_text(
        f'[http]\nbase_url = "{base_url}"\nendpoints = ["/api/v1/slow"]\ntimeout_s = 2.0\n'
        f'[frontend]\nurl = ""\n[store]\nurl = "sqlite:///{tmp_path / "perfbook.db"}"\n'
        f'[watch]\ninterval = "1s"\nexpensive_probes = ["containers", "postgres", "process"]\n{watch}\n'
        f"{email}{rules}"
    )
    return path


# far from both sides: the fault is 1 s, a healthy answer well under 0.1 s
SLOW_RULE = """
[[alerts.rules]]
name = "HighResponseTime"
when = "p95_s > 0.5"
for = "1s"
keep_firing_for = "0s"
"""


def lines(stdout: str) -> list[dict[str, Any]]:
    """Every JSON line of ``watch --json``."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def store_of(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
