"""An HTTP server in its own process that counts every request and notes when it arrived and from
which client port: what the --cluster tests check the load against, measured at the server.

Own process and uvloop, so its timestamps do not wait on the test's GIL. Answers after
``--delay`` seconds (a timer, not a sleep that would hold later requests). It prints its port,
keeps its running count in ``OUT.count`` (every 100 ms), and on SIGTERM writes
``{"count": N, "arrivals": [[t_s, client_port], ...], "stalls": [[t_s, s], ...],
"service_s": [...]}`` to ``OUT`` and exits. ``service_s`` is each response's time in the server
(the delay it really applied, which a loaded machine stretches). ``stalls`` are the moments its own loop
did not run for over 20 ms (the machine
did not schedule it): arrivals around them are the instrument's, not the client's, timing.

``ArrivalServer(tmp_path, delay_s=0.05)`` is the test-side handle (a context manager).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

STALL_TICK_S = 0.005
STALL_S = 0.020
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _Conn(asyncio.Protocol):
    def __init__(self, server: _State) -> None:
        self.server = server
        self.buffer = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.port = transport.get_extra_info("peername")[1]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GETs only: no bodies to skip
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.server.arrivals.append((now, self.port))
            if self.server.delay_s:
                asyncio.get_running_loop().call_later(self.server.delay_s, self._answer, now)
            else:
                self._answer(now)

    def _answer(self, arrived: float) -> None:
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)
            self.server.service_s.append(time.perf_counter() - arrived)


class _State:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.arrivals: list[tuple[float, int]] = []
        self.stalls: list[tuple[float, float]] = []
        self.service_s: list[float] = []  # from a request's arrival to its response's write

    async def watch_stalls(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(STALL_TICK_S)
            late_s = time.perf_counter() - before - STALL_TICK_S
            if late_s > STALL_S:
                self.stalls.append((before + STALL_TICK_S, late_s))


async def _main(delay_s: float, out: Path) -> None:
    loop = asyncio.get_running_loop()
    state = _State(delay_s)
    server = await loop.create_server(lambda: _Conn(state), "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    watcher = asyncio.ensure_future(state.watch_stalls())
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    count_file = Path(f"{out}.count")
    while not done.is_set():
        count_file.write_text(str(len(state.arrivals)))
        try:
            await asyncio.wait_for(done.wait(), 0.1)
        except TimeoutError:
            pass
    server.close()
    watcher.cancel()
    out.write_text(
        json.dumps(
            {
                "count": len(state.arrivals),
                "arrivals": state.arrivals,
                "stalls": state.stalls,
                "service_s": state.service_s,
            }
        )
    )


class ArrivalServer:
    """The test's handle: ``.url``, ``.count()`` while it runs, ``.stop()`` → the arrivals document."""

    def __init__(self, tmp: Path, delay_s: float = 0.0) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.out = tmp / f"arrivals-{time.monotonic_ns()}.json"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--delay", str(delay_s), "--out", str(self.out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/"
        self.result: dict | None = None

    def count(self) -> int:
        try:
            return int(Path(f"{self.out}.count").read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def stop(self) -> dict:
        if self.result is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
            self.result = json.loads(self.out.read_text())
        return self.result

    def __enter__(self) -> ArrivalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_main(args.delay, args.out))
