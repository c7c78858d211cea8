"""The protocol side of the hot path: one asyncio Protocol per connection, fed by httptools.

Per response: read the clock, append one float, bump one status counter, and (closed loop)
write the prepared request again. Four small classes instead of flags, so the hot path has no
branches for the mode: closed or open loop, GET-like or HEAD. A connection knows its run only
through :class:`RunState` (what engine's run provides), so this module depends on nothing above it.

A body framed by neither Content-Length nor chunked coding ends when the server closes the
connection (RFC 9112 §6.3; HTTP/1.0 servers and some proxies answer so). httptools cannot be told
of that EOF, so a connection keeps the first bytes of each response (one store per response) and,
only when the server closes it mid-response, reads their head again to tell a close-delimited
response (complete: counted and timed) from one cut short of its declared length (a ``reset``).
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Protocol

import httptools


class RunState(Protocol):
    """What a connection needs from the run it belongs to (``load.engine`` provides it)."""

    loop: asyncio.AbstractEventLoop
    request: bytes  # the prepared request, written as is
    keepalive: bool
    lat: list[float]  # latencies (s) since the last tick, appended per response
    lat_corrected: list[float]  # open loop: from each request's intended start
    codes: list[int]  # responses per status code (index = status)
    interim: int  # interim 1xx responses: counted apart, not responses
    remaining: int  # closed loop: requests still to send
    bytes_closed: int  # bytes received on connections already closed

    def error(self, kind: str, reason: object) -> None:
        """Count one error of ``kind`` ("reset", "timeout", "parse" …), keeping a first example."""

    def schedule_next(self, conn: Conn) -> None:
        """Open loop: send ``conn``'s next request at its intended time (or close it at the end)."""


class Slot:
    """A connection slot's place in the open-loop schedule."""

    __slots__ = ("next_index",)

    def __init__(self, index: int) -> None:
        self.next_index = index


class Conn(asyncio.Protocol):
    """One connection, closed loop: the next request goes out as the response completes."""

    def __init__(self, run: RunState, slot: Slot) -> None:
        self.run = run
        self.slot = slot
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made
        self.sent_at = 0.0
        self.intended_at = 0.0
        self.pending: float | None = None  # open loop: the intended time of a send waiting on a timer
        self.inflight = False
        self.nbytes = 0
        self.head: bytes | None = None  # the first bytes of the response in flight
        # bound once: the hot path then does no attribute lookups through run
        self.record = run.lat.append
        self.codes = run.codes
        self.request = run.request
        self.keepalive = run.keepalive
        self.done = run.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.nbytes += len(data)
        if self.head is None:
            self.head = data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self.fail("parse", err)

    def on_message_complete(self) -> None:
        parser = self.parser
        code = parser.get_status_code()
        if code < 200 and code != 101:  # 100 Continue / 103 Early Hints: the final response is still to come
            self.run.interim += 1
            return
        now = perf_counter()
        self.record(now - self.sent_at)
        self.codes[code] += 1
        run = self.run
        if run.remaining > 0 and self.keepalive and parser.should_keep_alive():
            run.remaining -= 1
            self.sent_at = now  # the clock was just read: the write follows at once
            self.head = None
            self.transport.write(self.request)
        else:
            self.inflight = False
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inflight:
            self.inflight = False
            code = close_delimited_status(self.head) if exc is None else 0
            if code:
                self.complete_at_close(code)
            else:  # EOF or RST before the response was complete
                self.run.error("reset", exc or "connection closed before the response was complete")
        self.run.bytes_closed += self.nbytes
        self.nbytes = 0
        if not self.done.done():
            self.done.set_result(None)

    def complete_at_close(self, code: int) -> None:
        """A close-delimited response ends with its connection: counted and timed now."""
        self.record(perf_counter() - self.sent_at)
        self.codes[code] += 1

    def fail(self, kind: str, reason: object = None) -> None:
        if self.inflight:
            self.inflight = False
            self.run.error(kind, reason)
        if self.transport is not None:
            self.transport.abort()

    def send_pending(self) -> None:
        """A timer's send; if the server closed the connection meanwhile, the slot resends it."""
        if self.pending is not None and self.transport is not None and not self.transport.is_closing():
            intended, self.pending = self.pending, None
            self.send(intended)

    def send(self, intended_at: float) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        now = perf_counter()
        # uvloop rounds timer delays to whole ms, so a send may come up to 0.5 ms early: the
        # corrected latency then counts from the actual send, never less than the uncorrected.
        self.intended_at = intended_at if intended_at < now else now
        self.sent_at = now
        self.inflight = True
        self.head = None
        self.transport.write(self.request)


class OpenConn(Conn):
    """One connection, open loop: the next request waits for its intended time."""

    def __init__(self, run: RunState, slot: Slot) -> None:
        super().__init__(run, slot)
        self.record_corrected = run.lat_corrected.append

    def on_message_complete(self) -> None:
        parser = self.parser
        code = parser.get_status_code()
        if code < 200 and code != 101:  # interim: not the response
            self.run.interim += 1
            return
        now = perf_counter()
        self.record(now - self.sent_at)
        self.record_corrected(now - self.intended_at)
        self.codes[code] += 1
        self.inflight = False
        if self.keepalive and parser.should_keep_alive():
            self.run.schedule_next(self)
        else:
            self.transport.close()

    def complete_at_close(self, code: int) -> None:
        now = perf_counter()
        self.record(now - self.sent_at)
        self.record_corrected(now - self.intended_at)
        self.codes[code] += 1


class HeadConn(Conn):
    """HEAD responses carry no body: a response is complete with its headers."""

    def on_headers_complete(self) -> None:
        if _interim(self):
            return
        Conn.on_message_complete(self)
        self.parser = httptools.HttpResponseParser(self)  # the old one would wait for a body

    def on_message_complete(self) -> None:
        pass


class HeadOpenConn(OpenConn):
    def on_headers_complete(self) -> None:
        if _interim(self):
            return
        OpenConn.on_message_complete(self)
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        pass


class _Head:
    """What the head of a response says of its framing (read again only on a mid-response close)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.framed = False  # Content-Length or Transfer-Encoding: its end is not the close
        self.status = 0  # of the final (non-1xx) response, once its head is complete

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        code = self.parser.get_status_code()
        if code >= 200:
            self.status = code

    def on_message_complete(self) -> None:
        if not self.status:  # an interim response's headers say nothing of the final one's
            self.framed = False


def close_delimited_status(head: bytes | None) -> int:
    """The status of a response whose body ran to the close, or 0 (cut short, or no complete head).

    ``head`` is the first bytes received for the response (one read): a head split across reads is
    not recognised, and the response stays a ``reset`` as before.

    >>> close_delimited_status(b"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nbody")
    200
    >>> close_delimited_status(b"HTTP/1.0 200 OK\\r\\nContent-Length: 10\\r\\n\\r\\nbody")
    0
    >>> close_delimited_status(b"HTTP/1.1 200 OK\\r\\nContent-")
    0
    """
    if not head:
        return 0
    reader = _Head()
    try:
        reader.parser.feed_data(head)
    except httptools.HttpParserError:
        return 0
    return 0 if reader.framed else reader.status


def _interim(conn: Conn) -> bool:
    """An interim 1xx on a HEAD connection: counted, and the same parser reads the final response."""
    code = conn.parser.get_status_code()
    if code < 200 and code != 101:
        conn.run.interim += 1
        return True
    return False


CONN_CLASSES = {
    (False, False): Conn,
    (True, False): OpenConn,
    (False, True): HeadConn,
    (True, True): HeadOpenConn,
}
