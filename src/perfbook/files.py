"""Write files so that a failure never leaves a partial one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from perfbook.errors import UsageError


def write_atomic(path: Path, text: str, *, what: str = "file") -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, then rename."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as err:
        raise UsageError(f"cannot write {what} {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
