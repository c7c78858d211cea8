"""perfbook.files: what an output path may be, and how it is written (#12)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from perfbook.errors import PerfbookError, UsageError
from perfbook.files import (
    OutputError,
    OutputStream,
    check_output,
    private_dir,
    stdout_failure,
    write_atomic,
    write_text,
)


def _device(path: Path) -> Path:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))  # like /dev/full, made here
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("device", "is a character device"),
        ("fifo", "is a FIFO"),
        ("directory", "is a directory"),
        ("missing dir", "does not exist"),
        ("link to a device", "a symlink to"),
    ],
)
def test_what_is_refused(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / "out"
    if kind == "device":
        _device(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "missing dir":
        path = tmp_path / "no" / "out"
    else:
        path.symlink_to(_device(tmp_path / "dev"))
    with pytest.raises(UsageError, match=message):
        check_output(path, "--x")
    with pytest.raises(UsageError):
        write_text(path, "x", what="--x")
    assert kind == "missing dir" or os.lstat(path).st_mode != stat.S_IFREG  # never replaced


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert write_text(link, "new", what="--x") == real
    assert link.is_symlink() and real.read_text() == "new"


def test_new_files_are_0600_and_replaced_ones_keep_their_mode(tmp_path: Path) -> None:
    new = tmp_path / "new"
    write_text(new, "x")
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    old = tmp_path / "old"
    old.write_text("x")
    old.chmod(0o644)
    write_text(old, "y")
    assert stat.S_IMODE(old.stat().st_mode) == 0o644 and old.read_text() == "y"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_write_text_redacts_and_write_atomic_does_not(tmp_path: Path) -> None:
    write_text(tmp_path / "report.md", "postgresql://u:hunter2@h/db")
    assert (tmp_path / "report.md").read_text() == "postgresql://u:***@h/db"
    write_atomic(tmp_path / "am.yml", "credentials: hunter2")  # a file that must carry its credential
    assert (tmp_path / "am.yml").read_text() == "credentials: hunter2"


def test_private_dir_is_0700_parents_too(tmp_path: Path) -> None:
    path = private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700


@pytest.mark.parametrize("code", [errno.EPIPE, errno.ENOSPC])
def test_a_failed_stream_write_is_one_error(code: int) -> None:
    class Broken:
        def write(self, text: str) -> int:
            raise OSError(code, os.strerror(code))

        def flush(self) -> None:
            raise OSError(code, os.strerror(code))

    stream = OutputStream(Broken())
    with pytest.raises(OutputError):
        stream.write("x")
    with pytest.raises(OutputError):
        stream.flush()
    assert isinstance(stdout_failure(OSError(code, "x")), PerfbookError)
    assert stdout_failure(OSError(errno.ENOENT, "x")) is None
    assert OutputStream.around(stream) is stream
