"""Large log files under the configured directories: a bounded walk (depth, entries, time).

The runbook's ``find /var/log -name "*.log" -exec ls -lh {} \\;`` walks everything with no bound;
here the walk stops at ``max_depth``, ``max_entries`` or ``budget_s`` (and says why), never follows
symlinks nor crosses into another filesystem, and keeps only files over the size limit. Every
regular file counts, not only ``*.log``: rotated ``.1`` / ``.gz`` files and journals fill disks too.
"""

from __future__ import annotations

import os
import stat
import time
from collections import deque
from collections.abc import Callable

from perfbook.evidence.host import LogFile, LogScan

MAX_LISTED = 20  # large files kept in evidence, largest first


def scan_logs(
    dirs: list[str],
    limit_bytes: int,
    *,
    max_depth: int = 4,
    max_entries: int = 20_000,
    budget_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    now_epoch_s: Callable[[], float] = time.time,
) -> LogScan:
    """Walk ``dirs`` breadth-first within the bounds; files over ``limit_bytes`` are reported."""
    started = clock()
    scan = LogScan(dirs=list(dirs), limit_bytes=limit_bytes, files_seen=0)
    entries = 0
    now = now_epoch_s()
    large: list[LogFile] = []
    queue: deque[tuple[str, int, int]] = deque()  # (path, depth, st_dev of the root)
    for root in dirs:
        try:
            queue.append((root, 0, os.stat(root).st_dev))
        except OSError:
            scan.missing_dirs.append(root)
    while queue:
        path, depth, dev = queue.popleft()
        try:
            with os.scandir(path) as it:
                listing = list(it)
        except OSError:
            scan.unreadable_dirs += 1
            continue
        for entry in listing:
            entries += 1
            if entries > max_entries:
                scan.truncated = f"max entries {max_entries}"
            elif clock() - started > budget_s:
                scan.truncated = f"time budget {budget_s:.1f} s"
            if scan.truncated:
                queue.clear()
                break
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if depth + 1 <= max_depth and st.st_dev == dev:
                    queue.append((entry.path, depth + 1, dev))
            elif stat.S_ISREG(st.st_mode):
                scan.files_seen += 1
                if st.st_size > limit_bytes:
                    large.append(
                        LogFile(
                            entry.path, st.st_size, st.st_blocks * 512, round(max(0.0, now - st.st_mtime), 1)
                        )
                    )
    large.sort(key=lambda f: f.size_bytes, reverse=True)
    scan.large_files = large[:MAX_LISTED]
    scan.large_count = len(large)
    scan.duration_s = round(clock() - started, 3)
    return scan
