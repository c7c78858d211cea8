"""The hostile-input suite: perfbook run as a user runs it, against input meant to hurt.

Every attempt is one real ``perfbook`` process. Its outcome is judged the same way everywhere, in
this order: **data loss** (something the attempt must not touch was replaced, deleted or changed),
**leak** (the seeded secret in any output or file), **traceback**, **wrong** (exit code or result
not the documented one), else **clean error** (the one-line ``error:`` the input deserves) or
**correct**. A test passes only on the last two. The session ends with the tally, also written as
JSON to ``$PERFBOOK_HOSTILE_TALLY`` when set (the numbers quoted in docs/safety.md).

Nothing here touches /dev/* or a shared server: device nodes are made with mknod in the test's
own directory, filesystems are tmpfs mounts the test makes and removes, servers are private.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hostile import _TALLY, OUTCOMES, Attempt


@pytest.fixture
def attempt(request) -> Attempt:
    return Attempt(request.node.nodeid.split("::", 1)[-1])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _TALLY:
        return
    counts = {o: sum(1 for t in _TALLY if t["outcome"] == o) for o in OUTCOMES}
    terminalreporter.section("hostile attempts")
    terminalreporter.write_line(
        f"{len(_TALLY)} attempts: " + ", ".join(f"{n} {o}" for o, n in counts.items())
    )
    for t in _TALLY:
        if t["outcome"] not in ("clean error", "correct"):
            terminalreporter.write_line(
                f"  {t['outcome']:<11} {t['attempt']}: {'; '.join(t['problems'])[:160]}"
            )
    target = os.environ.get("PERFBOOK_HOSTILE_TALLY")
    if target:
        Path(target).write_text(
            json.dumps({"attempts": len(_TALLY), "counts": counts, "runs": _TALLY}, indent=2)
        )


@pytest.fixture
def full_fs(tmp_path: Path):
    """A 64 KiB tmpfs mounted in the test's directory, filled up; unmounted afterwards."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    try:
        (mnt / "old.txt").write_text("the old report\n")
        with open(mnt / "filler", "wb", buffering=0) as fh:  # unbuffered: close() has nothing left to fail
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
