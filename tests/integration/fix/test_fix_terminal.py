"""On a real terminal --apply asks first: 'n' declines (audited, nothing changed), 'y' applies."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import redis
from fixkit import write_config

from perfbook.store import Store, audit_history


def _run_on_terminal(args: list[str], answer: str, timeout_s: float = 30.0) -> tuple[int, str]:
    """Run ``perfbook *args`` with a pseudo-terminal as stdin/stdout/stderr; answer the prompt once."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_") and k != "CI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfbook", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    out, answered, deadline = b"", False, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        if not answered and b"[y/N]" in out:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=5)
    os.close(master)
    return code, out.decode(errors="replace")


def test_terminal_confirmation(tmp_path, redis_url: str) -> None:
    cache = redis.Redis.from_url(redis_url)
    cache.set("cache:a", 1)
    cfg = write_config(tmp_path, redis={"url": redis_url})
    args = ["fix", "redis.flush_cache", "--apply", "--no-verify", "--config", str(cfg)]
    code, out = _run_on_terminal(args, "n")
    assert code == 0 and "apply redis.flush_cache (flush cache db 0 (1 keys))? [y/N]:" in out, out
    assert "declined" in out and cache.dbsize() == 1
    code, out = _run_on_terminal(args, "y")
    assert code == 0 and "done: db 0 flushed" in out, out
    assert cache.dbsize() == 0
    store = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    assert [(e["mode"], e["outcome"]) for e in audit_history(store)] == [
        ("apply", "done"),
        ("plan", "planned"),
        ("apply", "declined"),
        ("plan", "planned"),
    ]
    store.close()
    cache.close()
