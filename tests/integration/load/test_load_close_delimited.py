"""Responses whose body ends when the server closes the connection (no Content-Length, not chunked:
HTTP/1.0 servers and some proxies answer so) are responses — counted, timed, their bytes read —
while a body cut short of its declared length is still a ``reset``. The server is Python's own
``http.server`` speaking HTTP/1.0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from perfbook.load.options import LoadOptions, make_run
from perfbook.load.runner import run_load

BODY = b"x" * 65536  # several reads on the client side


class CloseDelimited(BaseHTTPRequestHandler):
    """HTTP/1.0 (the handler's default): the body runs to the close; ``/cut`` declares more than it sends."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path != "/teapot" else 418)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/cut":
            self.send_header("Content-Length", str(len(BODY) * 2))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http10_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CloseDelimited)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(url: str, **kw: object) -> dict:
    kw.setdefault("abort_on_errors", 0.0)
    load_run, _ = make_run(LoadOptions(url=url, **kw))  # type: ignore[arg-type]
    return run_load(load_run).to_json()


def test_close_delimited_bodies_are_responses_with_their_bytes_and_latency():
    with http10_server() as url:
        doc = run(url + "/", requests=60, connections=3)
    assert doc["responses"] == doc["requests"] == 60
    assert doc["status_codes"] == {"200": 60}
    assert doc["errors"] == dict.fromkeys(doc["errors"], 0)
    assert doc["bytes"] >= 60 * len(BODY)
    lat = doc["latency"]
    assert 0 < lat["p50_s"] <= lat["max_s"] < 5


def test_close_delimited_status_is_counted_as_sent():
    with http10_server() as url:
        doc = run(url + "/teapot", requests=10, connections=2)
    assert doc["status_codes"] == {"418": 10}
    assert doc["errors"]["reset"] == 0


def test_open_loop_reads_close_delimited_bodies():
    with http10_server() as url:
        doc = run(url + "/", rate="40", duration="1s", connections=4)
    assert doc["errors"]["reset"] == 0
    assert doc["responses"] >= 30 and doc["status_codes"] == {"200": doc["responses"]}
    assert doc["latency"]["p50_s"] > 0


def test_a_body_cut_short_of_its_length_is_still_a_reset():
    with http10_server() as url:
        doc = run(url + "/cut", requests=10, connections=2)
    assert doc["errors"]["reset"] == 10
    assert doc["responses"] == 0
