"""The engine process of one cluster share: ``python -m perfbook.load.cluster_engine``, started by the worker.

Why a process of its own: inside the Dask worker the engine would share one interpreter lock with
Dask's event loop thread (heartbeats, monitors, a profiler sampling stacks 100 times a second).
A response then waits for that thread to let go of the lock, which shows as latency, and on a
busy machine as whole milliseconds. Here the engine runs alone on its loop, as in a local run.

Frames on the pipes are pickles with a 4-byte length. In (stdin): the :class:`Share`, then any
bytes mean stop — and end of file means the worker is gone, which stops too. Out (the original
stdout; ``print`` goes to stderr): ``("waiting", None)`` every 0.1 s until the start, a
``("snapshot", Snapshot)`` every engine tick, and last ``("done", (result, started_at, cpu_s))``.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import sys
import time
from typing import IO, Any

from perfbook.load.cluster_plan import Share
from perfbook.load.engine import Snapshot, WorkerResult, run_worker
from perfbook.load.runner import MIN_REQUESTS_FOR_ABORT

SPIN_S = 0.01  # the last moments before the start are spun, not slept: timers are ms-coarse
WAITING_EVERY_S = 0.1


def frame(message: Any) -> bytes:
    """One length-prefixed pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!I", len(data)) + data


def write_frame(out: IO[bytes], message: Any) -> None:
    out.write(frame(message))
    out.flush()


def read_frame(inp: IO[bytes] | _Fd) -> Any:
    """The next frame, or None at end of file."""
    head = inp.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("!I", head)
    data = inp.read(size)
    return pickle.loads(data) if len(data) == size else None


class _Engine:
    def __init__(self, share: Share, out: IO[bytes]) -> None:
        self.share = share
        self.out = out
        self.stop = False
        self.limit = share.abort_on_errors

    def on_stdin(self) -> None:
        self.stop = True  # "stop", or end of file: the worker that started us is gone
        asyncio.get_running_loop().remove_reader(sys.stdin.fileno())

    def control(self, snap: Snapshot) -> bool:
        try:
            write_frame(self.out, ("snapshot", snap))
        except OSError:  # the worker is gone (killed): nobody to send load for, so stop
            self.stop = True
        limit = self.limit
        if limit > 0 and snap.requests >= MIN_REQUESTS_FOR_ABORT and snap.errors / snap.requests > limit:
            self.stop = True  # the worker names the reason: it sees the same snapshot
        return self.stop

    async def run(self) -> tuple[WorkerResult | None, float, float]:
        loop = asyncio.get_running_loop()
        loop.add_reader(sys.stdin.fileno(), self.on_stdin)
        begin = self.share.start_at + self.share.phase_s
        while (wait_s := begin - time.time() - SPIN_S) > 0:
            if self.stop:  # stopped before the start: send nothing
                return None, time.time(), 0.0
            try:
                write_frame(self.out, ("waiting", None))
            except OSError:
                return None, time.time(), 0.0
            await asyncio.sleep(min(wait_s, WAITING_EVERY_S))
        while time.time() < begin:
            pass
        started_at, cpu_before = time.time(), time.process_time()
        result = await run_worker(self.share.plan, self.control)
        return result, started_at, time.process_time() - cpu_before


class _Fd:
    """Exact reads on a raw descriptor: a buffered reader could swallow a stop behind the share."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, n: int) -> bytes:
        chunks = []
        while n > 0 and (chunk := os.read(self.fd, n)):
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the frames
    share = read_frame(_Fd(sys.stdin.fileno()))
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        loop = asyncio.new_event_loop()
    try:
        outcome = loop.run_until_complete(_Engine(share, out).run())
    finally:
        loop.close()
    try:
        write_frame(out, ("done", outcome))
    except OSError:  # the worker is gone: nothing to report to
        pass


if __name__ == "__main__":
    main()
