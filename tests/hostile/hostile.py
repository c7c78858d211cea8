"""Helpers of the hostile suite: run perfbook as a user does, judge an attempt, protect what it must not touch."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "Hx7SeededS3cr3t"  # one secret, seeded in every form; no test may find it in any output
OUTCOMES = ("clean error", "correct", "traceback", "leak", "data loss", "wrong")
_TALLY: list[dict] = []


@dataclass
class Run:
    """One perfbook process: what a user sees."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    took_s: float

    @property
    def json(self):
        return json.loads(self.stdout)


def perfbook(
    *args: str,
    env: dict[str, str] | None = None,
    stdout: Path | str | None = None,
    timeout_s: float = 90,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> Run:
    """``python -m perfbook *args`` with no PERFBOOK_* of the caller; ``stdout`` may be a path (/dev/full)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}
    environ.update(env or {})
    started = time.monotonic()
    out = open(stdout, "w") if stdout is not None else subprocess.PIPE  # noqa: SIM115 - closed below
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "perfbook", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
            timeout=timeout_s,
            cwd=cwd,
            input=stdin,
        )
    except subprocess.TimeoutExpired as err:  # a hang is an outcome too (subprocess.run killed it)
        text = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")  # noqa: E731
        return Run(
            args,
            -1,
            text(err.stdout),
            text(err.stderr) + f"\n[hung: killed after {timeout_s:g} s]",
            time.monotonic() - started,
        )
    finally:
        if stdout is not None:
            out.close()
    return Run(args, proc.returncode, proc.stdout or "", proc.stderr, time.monotonic() - started)


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A perfbook process left running (for signals)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}
    environ.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "perfbook", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )


@dataclass
class Attempt:
    """Judges one attempt and records its outcome; ``assert_ok`` fails the test unless it was fine."""

    name: str
    outcome: str = ""
    detail: str = ""
    problems: list[str] = field(default_factory=list)

    def judge(
        self,
        run: Run,
        *,
        codes: Iterable[int],
        error: bool = False,
        files: Iterable[Path] = (),
        protect: Iterable[Callable[[], str | None]] = (),
        verify: Iterable[Callable[[], str | None]] = (),
        secrets: Iterable[str] = (SECRET,),
    ) -> str:
        """The outcome of ``run``. ``error``: a one-line ``error:`` is what the input deserves."""
        codes = set(codes)
        lost = [p for check in protect if (p := _safe(check))]
        outputs = [run.stdout, run.stderr, *(_read(f) for f in files)]
        leaked = [s for s in secrets for text in outputs if s and s in text]
        wrong = [p for check in verify if (p := _safe(check))]
        if run.code not in codes:
            wrong.insert(0, f"exit {run.code}, expected {sorted(codes)}")
        # perfbook's "error: …", or Click's own usage error ("Error: Invalid value for '--x'")
        errors = [line for line in run.stderr.splitlines() if line.lower().startswith("error:")]
        if error and len(errors) != 1:
            wrong.append(f"{len(errors)} 'error:' lines on stderr, expected one")
        if lost:
            self.outcome, self.problems = "data loss", lost
        elif leaked:
            self.outcome, self.problems = "leak", [f"the secret is in an output or file ({len(leaked)}x)"]
        elif "Traceback (most recent call last)" in run.stderr + run.stdout:
            self.outcome, self.problems = "traceback", [run.stderr.strip().splitlines()[-1][:200]]
        elif wrong:
            self.outcome, self.problems = "wrong", wrong
        else:
            self.outcome = "clean error" if error else "correct"
        self.detail = f"exit {run.code}; " + (errors[0][:160] if errors else run.stderr.strip()[-160:])
        _TALLY.append(
            {"attempt": self.name, "outcome": self.outcome, "problems": self.problems, "detail": self.detail}
        )
        return self.outcome

    def assert_ok(self) -> None:
        assert self.outcome in ("clean error", "correct"), f"{self.outcome}: {self.problems} ({self.detail})"

    def check(self, run: Run, **kw) -> None:
        """:meth:`judge`, then :meth:`assert_ok`."""
        self.judge(run, **kw)
        self.assert_ok()


def _safe(check: Callable[[], str | None]) -> str | None:
    try:
        return check()
    except Exception as err:  # a check that cannot even look is a problem to report, not a crash
        return f"{check.__name__}: {type(err).__name__}: {err}"


def _read(path: Path) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""


# -- things the attempts must not touch ---------------------------------------------------------------


def device_node(path: Path) -> Path:
    """A character device like /dev/full (1, 7), made here: never a real /dev entry."""
    import pytest

    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path, 0o600)
    return path


def still(path: Path, kind: Callable[[int], bool], what: str) -> Callable[[], str | None]:
    """A protect check: ``path`` is still a ``what`` (a device node, a FIFO, a symlink)."""

    def check() -> str | None:
        st = os.lstat(path)
        return None if kind(st.st_mode) else f"{path.name} is no longer {what}"

    check.__name__ = f"still_{what.replace(' ', '_')}"
    return check


def unchanged(path: Path) -> Callable[[], str | None]:
    """A protect check: ``path``'s bytes are what they were when this was called."""
    before = Path(path).read_bytes()

    def check() -> str | None:
        if not Path(path).exists():
            return f"{path.name} was deleted"
        return None if Path(path).read_bytes() == before else f"{path.name} was changed"

    return check
