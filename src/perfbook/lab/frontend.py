"""The lab's frontend: a tiny static server for a page with scripts, styles and images.

    python -m perfbook.lab.frontend pblab-1a2b-web --fd 4

It serves ``perfbook/lab/static`` on the listening socket the supervisor hands it (port 3000 by
default, as the runbook's frontend). Threaded, so a slow client does not hold up the others.
"""

from __future__ import annotations

import argparse
import functools
import signal
import socket
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from perfbook.lab.proctitle import set_process_name

STATIC_DIR = Path(__file__).parent / "static"


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files with a cache header and no per-request log line on stderr."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "public, max-age=60")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(fd: int, directory: Path = STATIC_DIR) -> ThreadingHTTPServer:
    """A server on the inherited listening socket ``fd`` (not yet serving)."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=fd)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="perfbook.lab.frontend")
    parser.add_argument("tag")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    set_process_name(args.tag)
    server = serve(args.fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
