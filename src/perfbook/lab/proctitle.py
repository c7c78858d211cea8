"""Give a lab process a recognisable name (``pblab-1a2b-api``) as ``ps`` and psutil show it.

Linux keeps a 15-character name per process (``/proc/PID/comm``); ``prctl(PR_SET_NAME)`` sets it
for the calling thread, which for the main thread is the process name psutil reports. The tag is
also in every lab process's argv, so matching by command line finds the same processes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_NAME = 15


def set_process_name(name: str) -> None:
    """Best effort: a no-op off Linux or when libc cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except OSError:
        pass
