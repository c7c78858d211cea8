"""In-worker effects of the ``cpu`` and ``leak`` faults: a busy loop and memory that grows.

Only one worker runs each effect: the one that wins a non-blocking flock on ``<fault>.owner``
(the lock dies with its process, so a recycled worker hands the effect on). The busy loop is a
thread in the worker, so the CPU shows as the backend's own process. The leak maps anonymous
memory in 512 KB steps and writes every page (untouched pages would not count in RSS); ``off``
unmaps it, so the memory really goes back to the system.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import threading
from pathlib import Path

LEAK_MB_PER_S = 5.0  # 300 MB/min: 15x the default memory_growth_mb_per_min
LEAK_CAP_MB = 600.0
LEAK_STEP_S = 0.1
BURN_BUFFER_BYTES = 256 * 1024  # ~1 ms of hashing per call: the stop flag is seen at once


class _Effect:
    """A background thread that runs while this worker owns the fault's lock."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path
        self._lock_fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, params: dict) -> None:
        if self.running or not self._acquire():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(params,), daemon=True, name=self.lock_path.stem
        )
        self._thread.start()

    def stop(self) -> None:
        if not self.running:
            return
        self._stop.set()
        self._thread.join(timeout=5)  # type: ignore[union-attr]
        self._thread = None
        self.release()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _acquire(self) -> bool:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def run(self, params: dict) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """Give back what the effect took (after its thread stopped)."""


class CpuBurn(_Effect):
    """Hash a buffer in ``threads`` threads (default 1) until stopped: a core's worth of CPU each.

    hashlib lets go of the GIL on large buffers, so ``--param threads=2`` really runs in parallel
    and takes the process past one core.
    """

    def run(self, params: dict) -> None:
        extra = [
            threading.Thread(target=self._spin, daemon=True) for _ in range(int(params.get("threads", 1)) - 1)
        ]
        for thread in extra:
            thread.start()
        self._spin()
        for thread in extra:
            thread.join()

    def _spin(self) -> None:
        buffer = b"\x5a" * BURN_BUFFER_BYTES
        while not self._stop.is_set():
            hashlib.sha256(buffer).digest()


class MemoryLeak(_Effect):
    """Map and dirty ``mb_per_s`` of memory per second up to ``cap_mb``; ``release`` unmaps it."""

    def __init__(self, lock_path: Path) -> None:
        super().__init__(lock_path)
        self.chunks: list[mmap.mmap] = []

    def run(self, params: dict) -> None:
        step_bytes = int(float(params.get("mb_per_s", LEAK_MB_PER_S)) * LEAK_STEP_S * 1024 * 1024)
        cap_bytes = int(float(params.get("cap_mb", LEAK_CAP_MB)) * 1024 * 1024)
        page = b"\x01" * mmap.PAGESIZE
        while not self._stop.wait(LEAK_STEP_S):
            if len(self.chunks) * step_bytes >= cap_bytes:
                continue
            chunk = mmap.mmap(-1, step_bytes)
            for offset in range(0, step_bytes, mmap.PAGESIZE):
                chunk[offset : offset + mmap.PAGESIZE] = page
            self.chunks.append(chunk)

    def release(self) -> None:
        for chunk in self.chunks:
            chunk.close()
        self.chunks.clear()


class Chaos:
    """The worker's cpu and leak effects, kept in line with the fault switches."""

    def __init__(self, state_dir: Path) -> None:
        self.effects: dict[str, _Effect] = {
            "cpu": CpuBurn(Path(state_dir) / "cpu.owner"),
            "leak": MemoryLeak(Path(state_dir) / "leak.owner"),
        }

    def sync(self, switches: dict[str, tuple[bool, dict]]) -> None:
        """Start or stop each effect to match ``{fault: (on, params)}``."""
        for name, effect in self.effects.items():
            on, params = switches.get(name, (False, {}))
            if on:
                effect.start(params)
            else:
                effect.stop()

    def stop_all(self) -> None:
        for effect in self.effects.values():
            effect.stop()
