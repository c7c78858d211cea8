"""How fast and how light is `perfbook triage`? Prints wall time and peak RSS against triage's time budgets.

    .venv/bin/python bench/triage_speed.py            # window 2 s, 5 runs each

Starts a real backend on 127.0.0.1 (health, metrics, two API endpoints, a page with assets, a
WebSocket echo) and a second one that accepts connections and never answers, then runs
`perfbook triage` as a subprocess — exactly what a user runs — and reads the child's peak RSS
from the OS. Budgets: healthy within window + 1.5 s; hanging target within window + timeout_s
+ 1 s; peak RSS <= 120 MB.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SERVER = textwrap.dedent("""
    import asyncio, sys
    import websockets
    from prometheus_client import Counter, Histogram, generate_latest
    silent = sys.argv[1] == "silent"
    LAT = Histogram("http_request_duration_seconds", "l", ["handler", "method"])
    REQ = Counter("http_requests_total", "r", ["handler", "method", "status"])
    PAGE = b'<html><script src="/app.js"></script><link rel="stylesheet" href="/app.css"><img src="/logo.png"></html>'
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                if silent:
                    await asyncio.Event().wait()
                path = head.split(b" ")[1].decode()
                body = generate_latest() if path == "/metrics" else PAGE if path == "/" else b"x" * 512
                LAT.labels(path, "GET").observe(0.002); REQ.labels(path, "GET", "200").inc()
                writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body))
                await writer.drain()
        except Exception:
            writer.close()
    async def echo(ws):
        async for m in ws:
            await ws.send(m)
    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        wss = await websockets.serve(echo, "127.0.0.1", 0)
        print(srv.sockets[0].getsockname()[1], list(wss.sockets)[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())
""")


def start_server(mode: str) -> tuple[subprocess.Popen, int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, mode], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    http_port, ws_port = map(int, proc.stdout.readline().split())
    return proc, http_port, ws_port


def write_config(directory: Path, http_port: int, ws_port: int, timeout_s: float) -> Path:
    path = directory / f"perfbook-{http_port}.toml"
    base = f"http://127.0.0.1:{http_port}"
    path.write_text(
        textwrap.dedent(f'''
        [http]
        base_url = "{base}"
        endpoints = ["/health", "/api/v1/users", "/api/v1/agents"]
        timeout_s = {timeout_s}
        [frontend]
        url = "{base}/"
        [websocket]
        url = "ws://127.0.0.1:{ws_port}/"
        mode = "echo"
        [process]
        match = ["bench-no-such-process"]
        [host]
        log_dirs = ["{directory}"]
    ''')
    )
    return path


def run_triage(config: Path, window: str) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS (MB) of one `perfbook triage --json`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    proc = subprocess.run(
        [
            f"{sys.prefix}/bin/perfbook",
            "triage",
            "--config",
            str(config),
            "--window",
            window,
            "--skip",
            "postgres,redis,containers",
            "--json",
            "--fail-on",
            "never",
        ],
        capture_output=True,
        text=True,
    )
    wall_s = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"triage failed: {proc.stderr.strip()}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall_s, max(peak_kb, before) / 1024


def main(window_s: float = 2.0, runs: int = 5) -> int:
    timeout_s = 2.0
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for mode, budget_s in (("healthy", window_s + 1.5), ("silent", window_s + timeout_s + 1.0)):
            proc, http_port, ws_port = start_server(mode)
            try:
                config = write_config(Path(tmp), http_port, ws_port, timeout_s)
                results = [run_triage(config, f"{window_s}s") for _ in range(runs)]
            finally:
                proc.kill()
            walls = [w for w, _ in results]
            rss = max(r for _, r in results)
            verdict = "ok" if max(walls) <= budget_s else "OVER"
            ok &= verdict == "ok"
            print(
                f"{mode:8} target: wall median {statistics.median(walls):.2f} s, max {max(walls):.2f} s "
                f"(budget {budget_s:.1f} s: {verdict}); peak RSS <= {rss:.0f} MB (budget 120 MB)"
            )
    rss_ok = rss <= 120
    print(f"cores: {os.cpu_count()}; window {window_s} s, timeout_s {timeout_s} s, {runs} runs each")
    return 0 if ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
