"""Write files so that an output can never destroy what is at its path, nor leave half a file.

Every path a command writes (``--markdown``, ``-o``, ``--plot``, ``config init`` …) is checked by
:func:`check_output` *before* the command does its work, so a minute-long load test never ends
in "cannot write". The rules:

- only a regular file is ever replaced, atomically (a temporary file in the same directory, then
  ``rename``); a directory, a device node, a FIFO or a socket at the path is refused;
- a symlink is written through: its target is replaced and the link stays a link;
- a missing or unwritable directory is refused (one line, exit 2);
- new files are created ``0600`` (reports and store data can name hosts, users and queries; a
  replaced file keeps its mode), directories perfbook creates for its state ``0700``;
- a full disk fails the write with one line, and the old file stays as it was.

:func:`stdout_failure` turns a failed write to stdout (``EPIPE`` when the reader went away,
``ENOSPC`` on a full disk) into that one line too.

    target = check_output(Path("incident.md"), "--markdown")   # before any probe runs
    ...
    write_text(Path("incident.md"), text, what="--markdown")
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from perfbook.errors import PerfbookError, UsageError
from perfbook.redact import redact

FILE_MODE = 0o600
DIR_MODE = 0o700
# The errors of a write to a stream whose reader left or whose disk is full: the command's work is
# done, its output could not be delivered.
STREAM_ERRNOS = frozenset({errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def check_output(path: Path, what: str) -> Path:
    """The file to write for ``path`` (a symlink's target), or UsageError naming ``what`` and why.

    Raises when the path is not a regular file (directory, device, FIFO, socket), when it is a
    read-only file, or when its directory is missing or cannot be written in (tried for real).
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    via = f" (a symlink to {target})" if target != path else ""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise UsageError(f"{what} {path}{via}: {err.strerror}") from None
    if st is not None:
        kind = next((name for test, name in _KINDS if test(st.st_mode)), None)
        if kind is not None or not stat.S_ISREG(st.st_mode):
            raise UsageError(
                f"{what} {path}{via} is {kind or 'not a regular file'}: perfbook only replaces regular files",
                hint="give the path of a file to write",
            )
        if not os.access(target, os.W_OK):
            raise UsageError(
                f"{what} {path}{via} is read-only", hint="choose another path or make it writable"
            )
    _check_directory(target.parent if str(target.parent) else Path("."), what, path)
    return target


def _check_directory(directory: Path, what: str, path: Path) -> None:
    if not directory.exists():
        raise UsageError(
            f"{what} {path}: directory {directory} does not exist", hint=f"create it: mkdir -p {directory}"
        )
    if not directory.is_dir():
        raise UsageError(f"{what} {path}: {directory} is not a directory")
    try:  # access() says yes to root on a read-only mount or in /proc: try it for real
        fd, probe = tempfile.mkstemp(prefix=".perfbook-check.", dir=directory)
    except OSError as err:
        raise UsageError(f"{what} {path}: cannot write in {directory}: {err.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def write_bytes(path: Path, data: bytes, *, what: str = "file", mode: int = FILE_MODE) -> Path:
    """Replace ``path`` (checked again, symlink written through) with ``data`` atomically; the file written.

    A new file gets ``mode``; a replaced one keeps its own. On any failure the temporary file is
    removed and the old file, if any, is untouched (PerfbookError, exit 1).
    """
    target = check_output(Path(path), what)
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # a full disk shows here, before the rename, not after it
        _same_owner_and_mode(tmp, old, mode)
        os.replace(tmp, target)
    except OSError as err:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise PerfbookError(f"{what} {path}: cannot write: {err.strerror}; nothing was replaced") from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _same_owner_and_mode(tmp: str, old: os.stat_result | None, mode: int) -> None:
    """A replaced file keeps its mode (and, for root, its owner); a new one gets ``mode``."""
    os.chmod(tmp, stat.S_IMODE(old.st_mode) if old is not None else mode)
    if old is not None and os.geteuid() == 0 and (old.st_uid, old.st_gid) != (0, 0):
        os.chown(tmp, old.st_uid, old.st_gid)


def write_text(path: Path, text: str, *, what: str = "file", mode: int = FILE_MODE) -> Path:
    """:func:`write_bytes` of ``text`` in UTF-8, redacted (a file is an output like any other)."""
    return write_bytes(path, redact(text).encode("utf-8"), what=what, mode=mode)


def write_atomic(path: Path, text: str, *, what: str = "file") -> None:
    """:func:`write_text` without the redaction pass: for a file whose job is to carry a credential
    (an Alertmanager config with its bearer token inline), which is then 0600 like every new file."""
    write_bytes(path, text.encode("utf-8"), what=what)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (``0700``), parents created ``0700`` too."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


class OutputError(PerfbookError):
    """stdout or stderr could not be written (the reader left, the disk is full): exit 1, one line."""


class OutputStream:
    """stdout / stderr of the CLI: every write redacted, a failed write one :class:`OutputError`.

    The one redaction pass is a safety net here under values redacted where they are built. A
    failed write becomes a PerfbookError, not an OSError, so nothing on the way (Typer turns
    EPIPE into a silent exit 1) swallows it. Everything else (``isatty``, ``fileno``, ``encoding``
    …) is the wrapped stream's.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    @classmethod
    def around(cls, stream: Any) -> OutputStream:
        """``stream`` wrapped, once (an OutputStream is returned as it is)."""
        return stream if isinstance(stream, cls) else cls(stream)

    @property
    def wrapped(self) -> Any:
        return self._stream

    def write(self, text: str) -> int:
        try:
            self._stream.write(redact(text))
        except OSError as err:
            raise stdout_failure(err) or err from None
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            raise stdout_failure(err) or err from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def stdout_failure(err: BaseException) -> PerfbookError | None:
    """The one-line error for a failed write to stdout / stderr, or None for any other error."""
    if not isinstance(err, OSError) or err.errno not in STREAM_ERRNOS:
        return None
    if err.errno == errno.EPIPE:
        return OutputError("stdout: the reading end of the pipe was closed; output cut short")
    return OutputError(f"cannot write the output to stdout: {err.strerror}")


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's buffer): nothing to flush
        pass
