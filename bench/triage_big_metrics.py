"""Does `perfbook triage` stay inside its budgets against a hostile 50 MB /metrics page?

    .venv/bin/python bench/triage_big_metrics.py              # 50 MB page, [http] max_metrics_bytes default
    .venv/bin/python bench/triage_big_metrics.py --mb 200

Serves one /metrics page of MB megabytes (histogram buckets of many handlers) from a local
server, runs `perfbook triage --only http,metrics --json` as a subprocess — what a user runs —
and prints its wall time, the report's own duration_s, the child's peak RSS from the OS, and
what the probe says it cut. Budgets (docs/architecture.md): peak RSS <= 120 MB; the reported duration is
the wall time of triage (within the interpreter's start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SERVER = textwrap.dedent("""
    import http.server, sys
    MB = float(sys.argv[1])
    line = 'http_request_duration_seconds_bucket{handler="/api/v1/h%06d",method="GET",le="%s"} %d\\n'
    rows, size, i = [], 0, 0
    while size < MB * 1e6:
        for le in ("0.1", "0.5", "1.0", "+Inf"):
            text = line % (i, le, 10 * (i + 1))
            rows.append(text)
            size += len(text)
        i += 1
    PAGE = "".join(rows).encode()
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = PAGE if self.path == "/metrics" else b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--window", default="2s")
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.mb)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "perfbook.toml"
            cfg.write_text(f'[http]\nbase_url = "http://127.0.0.1:{port}"\nendpoints = ["/health"]\n')
            env = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}
            cmd = [
                sys.executable,
                "-m",
                "perfbook",
                "triage",
                "--config",
                str(cfg),
                "--only",
                "http,metrics",
                "--window",
                args.window,
                "--json",
                "--fail-on",
                "never",
            ]
            started = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
            wall_s = time.monotonic() - started
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        doc = json.loads(proc.stdout) if proc.returncode == 0 else {}
        metrics = doc.get("probes", {}).get("metrics", {})
        print(f"/metrics page        {args.mb:g} MB")
        print(f"exit code            {proc.returncode} {proc.stderr.strip()[:200]}")
        print(f"wall time            {wall_s:.2f} s (window {args.window})")
        print(f"report duration_s    {doc.get('duration_s')} s (metrics probe {metrics.get('duration_s')} s)")
        print(f"peak RSS             {rss_mb:.1f} MB (budget 120 MB)")
        print(f"metrics probe        {metrics.get('status')}: {metrics.get('reason')}")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
