"""Hostile HTTP servers on 127.0.0.1: too big, too slow, malformed, looping. One thread per connection.

    with Hostile("big_metrics", mb=50) as srv: srv.url

Modes: ``ok`` (a small healthy app), ``big_metrics`` (``/metrics`` of MB megabytes), ``big_body``
(every path answers MB megabytes, made as it is sent), ``many_headers`` (5,000 headers),
``never`` (reads, never answers), ``drip`` (a byte a second), ``chunked_forever`` (a chunked body
that never ends), ``redirect_loop`` (302 to itself), ``interim`` (100 Continue, then 200),
``bad_asset`` (a page whose asset URLs are invalid), ``garbage`` (not HTTP at all).
"""

from __future__ import annotations

import socket
import threading
import time

PAGE = (
    b'<html><script src="/ok.js"></script><img src="http://[::1/x.png">'
    b'<link rel="stylesheet" href="http://127.0.0.1:1\x1b[0m/x.css"><img src="/ok.png"></html>'
)
METRICS = (
    b'# TYPE http_requests_total counter\nhttp_requests_total{handler="/health",status="200"} 5\n'
    b'http_request_duration_seconds_bucket{handler="/health",le="0.1"} 5\n'
    b'http_request_duration_seconds_bucket{handler="/health",le="+Inf"} 5\n'
    b'http_request_duration_seconds_count{handler="/health"} 5\n'
)
LINE = b'http_request_duration_seconds_bucket{handler="/api/v1/h%06d",method="GET",le="%s"} %d\n'


class Hostile:
    def __init__(self, mode: str = "ok", mb: float = 1.0) -> None:
        self.mode, self.mb = mode, mb
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.closed = threading.Event()
        self.requests = 0
        self._conns: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed.set()
        self.sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            buf = b""
            while not self.closed.is_set():
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                self.requests += 1
                path = head.split(b" ")[1].decode(errors="replace") if b" " in head else "/"
                if not self._answer(conn, path):
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, path: str) -> bool:
        mode = self.mode
        if mode == "never":
            self.closed.wait(120)
            return False
        if mode == "garbage":
            conn.sendall(b"\x00\xff not http at all \r\n\r\n" * 10)
            return False
        if mode == "drip":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not self.closed.wait(1.0):
                conn.sendall(b"x")
            return False
        if mode == "chunked_forever":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not self.closed.is_set():
                conn.sendall(b"400\r\n" + b"y" * 1024 + b"\r\n")
                time.sleep(0.001)
            return False
        if mode == "redirect_loop":
            return _send(conn, 302, b"", [b"Location: " + path.encode()])
        if mode == "interim":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            return _send(conn, 200, b"ok")
        if mode == "many_headers":
            return _send(conn, 200, b"ok", [b"X-H%d: %s" % (i, b"v" * 20) for i in range(5000)])
        if mode == "big_body" and path != "/metrics":
            return self._big(conn, lambda i: b"z" * 65536)
        if mode == "big_metrics" and path == "/metrics":
            return self._big(conn, _metrics_chunk)
        if mode == "bad_asset" and path == "/":
            return _send(conn, 200, PAGE, [b"Content-Type: text/html"])
        if path == "/metrics":
            return _send(conn, 200, METRICS, [b"Content-Type: text/plain; version=0.0.4"])
        return _send(conn, 200, b"ok")

    def _big(self, conn: socket.socket, chunk) -> bool:
        total = int(self.mb * 1e6)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        sent, i = 0, 0
        while sent < total:
            data = chunk(i)[: total - sent]
            conn.sendall(data)
            sent, i = sent + len(data), i + 1
        return True


def _metrics_chunk(i: int) -> bytes:
    return b"".join(
        LINE % (i * 100 + j, le, j) for j in range(100) for le in (b"0.1", b"0.5", b"1.0", b"+Inf")
    )


def _send(conn: socket.socket, status: int, body: bytes, headers: list[bytes] | None = None) -> bool:
    lines = [b"HTTP/1.1 %d X" % status, b"Content-Length: %d" % len(body), *(headers or [])]
    conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    return True


def closed_port() -> int:
    """A port where nothing listens (bound and released a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
