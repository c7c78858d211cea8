"""How fast does `perfbook serve` answer? p50 / p95 time to first byte over a big store, against a 50 ms target.

    .venv/bin/python bench/serve_pages.py            # 200 requests per page, after 20 to warm up
    .venv/bin/python bench/serve_pages.py --store /tmp/serve-bench --requests 60   # keep the store, reuse it

Builds a SQLite store the size of a busy year: 10,000 incidents (each with its opening event;
every tenth with a triage report attached), and 30 days of KPI history at a 30 s interval (7 KPIs,
604,800 samples). Starts `perfbook serve` as a subprocess — what a user runs — and times, one
request at a time from this process, the time to the first byte of: the Overview (latest triage,
14 sparkline series, alerts, open incidents), one incident's page (timeline, checklist, message
drafts), and `/api/v1/incidents` (newest 50 of 10,000 with the total). Beside them, the same
server's static CSS file: what the framework and the socket cost with no perfbook work at all.

Each page also gets the server's CPU time per request (user + system of the server process over
the timed requests, divided by their count): on a shared machine wall times grow with the load
average, CPU time much less, so the output states the load average (``os.getloadavg``) beside both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

N_INCIDENTS = 10_000
DAYS, STEP_S = 30, 30
KPIS = ("p95_s", "error_rate", "cpu_pct", "memory_pct", "disk_pct", "db_query_mean_ms", "cache_hit_rate")
TARGET_S = 0.050
REQUESTS, WARMUP = 200, 20


def build(path: Path) -> str:
    """The store; the id of the incident whose page is timed."""
    from lab_recordings import lab_report
    from perfbook.incidents import records
    from perfbook.store import Store, artifacts, incidents, kpi_samples, timeline_events

    store = Store(f"sqlite:///{path}")
    report = lab_report("slow")
    at = "2026-11-01T10:00:00Z"
    rows = [
        {
            "title": f"incident {i}",
            "status": "resolved" if i % 7 else "investigating",
            "severity": f"P{i % 4}",
            "impact": "minor",
            "issue_types": ["high_response_time"],
            "endpoints": ["/api/v1/agents"],
            "components": ["backend"],
            "owner": "bench",
            "opened_at": at,
            "resolved_at": at if i % 7 else None,
            "updated_at": at,
            "last_update_at": at,
        }
        for i in range(N_INCIDENTS)
    ]
    store.write(lambda conn: conn.execute(incidents.insert(), rows))
    events = [
        {
            "incident_id": i,
            "at": at,
            "kind": "opened",
            "actor": "bench",
            "summary": f"opened INC-{i}",
            "data": {},
        }
        for i in range(1, N_INCIDENTS + 1)
    ]
    store.write(lambda conn: conn.execute(timeline_events.insert(), events))
    docs = [
        {
            "incident_id": i,
            "kind": "triage",
            "at": at,
            "actor": "bench",
            "summary": "P2",
            "severity": "P2",
            "document": report,
        }
        for i in range(1, N_INCIDENTS + 1, 10)
    ]
    store.write(lambda conn: conn.execute(artifacts.insert(), docs))
    now = time.time()
    for kpi in KPIS:
        samples = [
            {
                "at_s": now - k * STEP_S,
                "run_id": f"r{k}",
                "kpi": kpi,
                "subject": "",
                "value": 0.5 + (k % 50) / 100,
                "count": 100,
            }
            for k in range(DAYS * 86400 // STEP_S)
        ]
        store.write(lambda conn, s=samples: conn.execute(kpi_samples.insert(), s))
    inc = records.open_incident(store, title="the timed one", severity="P1", actor="bench", report=report)
    records.add_note(store, inc.number, "a note", actor="bench")
    store.close()
    return inc.id


def ttfb(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    with client.stream("GET", path, headers={"accept": "text/html"}) as response:
        first = time.perf_counter()  # the status line and headers are in
        assert response.status_code == 200, (path, response.status_code)
        response.read()
    return first - started


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="requests per page before the timed ones")
    parser.add_argument("--store", type=Path, help="a directory to build the store in once and reuse after")
    args = parser.parse_args()
    tmp = args.store or Path(tempfile.mkdtemp(prefix="perfbook-bench-serve-"))
    tmp.mkdir(parents=True, exist_ok=True)
    db, marker = tmp / "perfbook.db", tmp / "timed-incident"
    if not marker.exists():
        db.unlink(missing_ok=True)
        started = time.perf_counter()
        marker.write_text(build(db))
        print(
            f"store: {N_INCIDENTS:,} incidents, {len(KPIS) * DAYS * 86400 // STEP_S:,} KPI samples, "
            f"{db.stat().st_size / 2**20:.0f} MiB, built in {time.perf_counter() - started:.0f} s"
        )
    incident = marker.read_text()
    (tmp / "perfbook.toml").write_text(f"[store]\nurl = {json.dumps('sqlite:///' + str(db))}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFBOOK_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "perfbook",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            str(tmp / "perfbook.toml"),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stderr.readline())[0]
        server = psutil.Process(proc.pid)
        pages = {
            "static CSS (floor)": "/static/perfbook.css",
            "overview": "/",
            "incident page": f"/incidents/{incident}",
            "/api/v1/incidents": "/api/v1/incidents",
        }
        print(f"{args.requests} requests per page after {args.warmup}; before: {load_average()}")
        print(
            f"{'page':<22} {'p50':>9} {'p95':>9}  p95 / target {TARGET_S * 1000:.0f} ms   p95 / floor"
            "   server CPU / request"
        )
        floor = None
        with httpx.Client(base_url=url, timeout=30) as client:
            for name, path in pages.items():
                for _ in range(args.warmup):
                    ttfb(client, path)
                cpu = server.cpu_times()
                times = [ttfb(client, path) for _ in range(args.requests)]
                after = server.cpu_times()
                cpu_s = (after.user + after.system - cpu.user - cpu.system) / args.requests
                p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
                floor = floor or p95
                print(
                    f"{name:<22} {p50 * 1000:7.1f} ms {p95 * 1000:7.1f} ms  "
                    f"{p95 / TARGET_S:12.2f}   {p95 / floor:10.1f}"
                    f"   {cpu_s * 1000:10.1f} ms"
                )
        print(f"after: {load_average()}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
