"""The lab's frontend: a tiny static server for a page with scripts, styles and images.

    python -m perfbook.lab.frontend pblab-1a2b-web --fd 4

It serves ``perfbook/lab/static`` on the listening socket the supervisor hands it (port 3000 by
default, as the runbook's frontend). Threaded, so a slow client does not hold up the others.
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import socket
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from perfbook.lab.proctitle import set_process_name

STATIC_DIR = Path(__file__).parent / "static"


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files with a cache header and no per-request log line on stderr; ``/js/config.js``
    tells the page where the backend is (its port is chosen at ``lab up``)."""

    api_base = "http://127.0.0.1:8001"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/js/config.js":
            super().do_GET()
            return
        body = f"window.LAB_API_BASE = {json.dumps(self.api_base)};\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "public, max-age=60")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(fd: int, api_base: str, directory: Path = STATIC_DIR) -> ThreadingHTTPServer:
    """A server on the inherited listening socket ``fd`` (not yet serving)."""
    handler_class = type("LabHandler", (QuietHandler,), {"api_base": api_base})
    handler = functools.partial(handler_class, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=fd)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="perfbook.lab.frontend")
    parser.add_argument("tag")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--api-base", default="http://127.0.0.1:8001")
    args = parser.parse_args(argv)
    set_process_name(args.tag)
    server = serve(args.fd, args.api_base)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
