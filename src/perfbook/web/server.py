"""Run the app under uvicorn on an address: parse ``--listen``, bind first (port 0 picks a free one), serve.

host, port = parse_listen("127.0.0.1:8080")
sock = bind(host, port)                  # the real port: sock.getsockname()[1]
serve(app, sock)                         # until SIGINT / SIGTERM; or start_in_thread(app, sock) in tests
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any

from perfbook.errors import UsageError


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8080``, ``[::1]:8080``, ``:8080`` (loopback) -> host and port.

    >>> parse_listen("[::1]:9000"), parse_listen(":0")
    (('::1', 9000), ('127.0.0.1', 0))
    """
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen takes HOST:PORT, got {text!r}", hint="e.g. --listen 127.0.0.1:8080")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (nothing else on the network can reach them)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (a usage error naming the address when it cannot)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {err.strerror}", hint="choose another --listen address or port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app: Any, sock: socket.socket) -> Any:
    import uvicorn

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(app: Any, sock: socket.socket) -> None:
    """Serve until interrupted (uvicorn handles SIGINT and SIGTERM: it finishes requests in flight, then stops)."""
    _server(app, sock).run(sockets=[sock])


class Running:
    """A server in a thread (tests, benches): ``url``, and ``stop()`` that waits for it to end."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        self._server = _server(app, sock)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            self._thread.join(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve ``app`` from a thread of this process on ``host:port`` (0: a free port)."""
    return Running(app, bind(host, port))
