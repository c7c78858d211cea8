"""Real HTTP servers for the load tests: asyncio on 127.0.0.1, a free port, in a thread.

Behaviours: ``ok`` (200, tiny body), ``status`` (a fixed status), ``interim`` (100 Continue, then
200), ``echo`` (remembers each
request's method, headers and body), ``reset`` (RST on every request), ``silent`` (reads, never
answers), ``stall_once`` (one request waits ``stall_s``), ``slots`` (K slots × a fixed service
time: a server with a known capacity of K / service_s requests per second).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class ServerConfig:
    mode: str = "ok"
    status: int = 200
    body: bytes = b"ok"
    delay_s: float = 0.0
    stall_s: float = 1.0
    stall_after: int = 100
    slots: int = 4
    service_s: float = 0.01
    idle_close_s: float | None = None  # close a keep-alive connection idle this long


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalServer:
    """``with LocalServer(ServerConfig(mode="echo")) as srv: srv.url``"""

    def __init__(self, config: ServerConfig | None = None, ssl_context=None) -> None:
        self.config = config or ServerConfig()
        self.ssl_context = ssl_context
        self.received: list[Received] = []
        self.count = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0
        self._free_at = [0.0] * self.config.slots
        self._server = None
        self._writers: set = field(default_factory=set) if False else set()

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("test server did not start")
        return self

    def __exit__(self, *exc) -> None:
        async def close():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024, ssl=self.ssl_context)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                idle_s = self.config.idle_close_s if self.count else None
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), idle_s)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.count += 1
                if not await self._answer(Received(method, path, headers, body), writer):
                    return
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
        finally:
            self._writers.discard(writer)

    async def _answer(self, req: Received, writer: asyncio.StreamWriter) -> bool:
        cfg = self.config
        if cfg.mode == "echo":
            self.received.append(req)
        if cfg.mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if cfg.mode == "silent":
            await asyncio.sleep(3600)
        if cfg.mode == "stall_once" and self.count == cfg.stall_after:
            await asyncio.sleep(cfg.stall_s)
        if cfg.delay_s:
            await asyncio.sleep(cfg.delay_s)
        if cfg.mode == "slots":
            # A K-server queue in virtual time: the earliest free slot serves the request for
            # exactly service_s, so the capacity is K / service_s even when this loop runs late.
            loop = asyncio.get_running_loop()
            slot = min(range(cfg.slots), key=self._free_at.__getitem__)
            finish = max(loop.time(), self._free_at[slot]) + cfg.service_s
            self._free_at[slot] = finish
            await asyncio.sleep(finish - loop.time())
        if cfg.mode == "interim":  # an interim response first, as a server answering Expect: 100-continue
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        status = cfg.status if cfg.mode == "status" else 200
        writer.write(
            b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s"
            % (status, len(cfg.body), cfg.body)
        )
        return True
