"""What perfbook watch costs: its own CPU and RSS per run, what it adds to the target, and the store's size.

Part 1 runs ``perfbook watch --interval I --duration D`` as a child process against a small HTTP
app on 127.0.0.1 (stdlib, counting the requests it gets, with a Prometheus /metrics page) and reads
the child's user + sys CPU and peak RSS from the OS (wait4). Part 2 writes a month of watch at a
30 s interval into a fresh SQLite store (24 h of raw samples + 30 days of 5-minute aggregates,
the retention defaults, with the samples a typical run stores) and reports the file's size.

Usage: python bench/watch_cost.py [--interval 2s] [--duration 30s] [--series 12] [--postgres] [--no-store]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from perfbook.store import Store
from perfbook.units import parse_duration
from perfbook.watch import records

PERFBOOK = [sys.executable, "-m", "perfbook"]
METRICS = b"""# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/api/v1/users",le="0.1"} 100
http_request_duration_seconds_bucket{handler="/api/v1/users",le="+Inf"} 100
http_request_duration_seconds_count{handler="/api/v1/users"} 100
http_request_duration_seconds_sum{handler="/api/v1/users"} 2.0
"""


class App(ThreadingHTTPServer):
    daemon_threads = True
    requests = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        self.server.requests += 1  # type: ignore[attr-defined]
        body = METRICS if self.path == "/metrics" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def watch_cost(interval_s: float, duration_s: float, workdir: Path) -> dict[str, float]:
    """The watch child's CPU per run beyond its start-up (a --once run's CPU is taken off), RSS, requests."""
    once = _child(workdir, ["--once"], "once")
    long = _child(workdir, ["--interval", f"{interval_s}s", "--duration", f"{duration_s}s"], "long")
    runs = long["runs"] - once["runs"]
    cpu_ms = 1000 * (long["cpu_s"] - once["cpu_s"]) / max(runs, 1)
    return {
        "runs": long["runs"],
        "startup_cpu_s": once["cpu_s"],
        "cpu_ms_per_run": cpu_ms,
        "peak_rss_mb": long["peak_rss_mb"],
        "target_requests_per_run": long["requests"] / max(long["runs"], 1),
    }


def _child(workdir: Path, flags: list[str], name: str, extra: str = "") -> dict[str, float]:
    app = App(("127.0.0.1", 0), Handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    cfg = workdir / "perfbook.toml"
    cfg.write_text(
        f'[http]\nbase_url = "http://127.0.0.1:{app.server_address[1]}"\n'
        'endpoints = ["/health", "/api/v1/users"]\n[frontend]\nurl = ""\n'
        f'[store]\nurl = "sqlite:///{workdir / (name + ".db")}"\n{extra}'
    )
    proc = subprocess.Popen(
        [*PERFBOOK, "watch", "--config", str(cfg), *flags, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, _, usage = os.wait4(proc.pid, 0)
    app.shutdown()
    runs = sum(1 for line in out.splitlines() if line.startswith(b'{"type": "run"'))
    return {
        "runs": runs,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "requests": app.requests,
    }


def sql_per_run(workdir: Path, runs: int = 5) -> float:
    """Statements the postgres probe sends per run (an expensive run), counted by pg_stat_statements
    on a private PostgreSQL (perfbook.services), the bench's own statements left out."""
    import psycopg

    from perfbook.services import start_postgres

    server = start_postgres()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        extra = f'[postgres]\ndsn = "{server.dsn()}"\n[watch]\nexpensive_every = 1\n'
        got = _child(workdir, ["--interval", "2s", "--duration", f"{2 * runs}s"], "pg", extra)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            calls = conn.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                "WHERE query NOT LIKE '%pg_stat_statements_reset%' "
                "AND query NOT LIKE 'SELECT coalesce(sum(calls)%'"
            ).fetchone()[0]
        return float(calls) / max(got["runs"], 1)
    finally:
        server.stop()


def store_month(workdir: Path, series: int, interval_s: float = 30.0) -> dict[str, float]:
    """A month at ``interval_s``: the last 24 h raw, the 30 days before as aggregates (what retention keeps)."""
    store = Store(f"sqlite:///{workdir / 'month.db'}")
    day, now = 86400.0, 1_900_000_000.0
    start = now - 30 * day
    rows = [
        {
            "bucket_start_s": start + bucket * 300,
            "bucket_s": 300,
            "kpi": f"k{i}",
            "subject": "",
            "samples": 10,
            "min": 1.0,
            "max": 2.0,
            "mean": 1.5,
            "last": 1.2,
        }
        # the days whose raw samples are gone
        for bucket in range(int(29 * day / 300))
        for i in range(series)
    ]
    store.write(lambda conn: conn.execute(records.kpi_aggregates.insert(), rows))
    at, runs, t0 = now - day, 0, time.monotonic()
    while at < now:  # the last day, run by run, as watch writes it (with its aggregates and pruning)
        run_id = f"r{at}"
        records.save_run(
            store,
            {
                "run_id": run_id,
                "started_at_s": at,
                "duration_s": 2.0,
                "severity": "OK",
                "findings": [
                    {"code": "host.large_logs", "subject": "/var/log", "level": "info", "value": 1.0}
                ],
                "probes": {"http": "ok", "metrics": "ok", "host": "ok"},
            },
            [
                {"at_s": at, "run_id": run_id, "kpi": f"k{i}", "subject": "", "value": 1.0, "count": 20}
                for i in range(series)
            ],
            now=at,
            raw_retention_s=day,
            aggregate_retention_s=30 * day,
        )
        at += interval_s
        runs += 1
    write_ms = 1000 * (time.monotonic() - t0) / runs
    store.close()
    size = sum(p.stat().st_size for p in workdir.glob("month.db*"))
    return {"series": series, "size_mb": size / 1e6, "write_ms": write_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", default="2s")
    parser.add_argument("--duration", default="30s")
    parser.add_argument(
        "--series", type=int, default=12, help="samples per run (stack KPIs + per-subject figures)"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also count the SQL statements of a run's postgres probe on a private PostgreSQL",
    )
    parser.add_argument(
        "--no-store", action="store_true", help="skip the month-of-store part (about a minute)"
    )
    args = parser.parse_args()
    interval_s, duration_s = parse_duration(args.interval), parse_duration(args.duration)
    with tempfile.TemporaryDirectory() as tmp:
        cost = watch_cost(interval_s, duration_s, Path(tmp))
        print(
            f"watch every {interval_s:g} s for {duration_s:g} s: {cost['runs']} runs, "
            f"{cost['cpu_ms_per_run']:.0f} ms CPU per run (start-up {cost['startup_cpu_s']:.1f} s CPU once), "
            f"peak RSS {cost['peak_rss_mb']:.0f} MB, "
            f"{cost['target_requests_per_run']:.1f} requests to the target per run"
        )
        print(
            f"  at a 30 s interval that is {cost['cpu_ms_per_run'] * 120 / 1000:.0f} s CPU per hour "
            f"({cost['cpu_ms_per_run'] / 300:.2f} % of one core)"
        )
        if args.postgres:
            print(
                f"  with [postgres]: {sql_per_run(Path(tmp)):.0f} SQL statements per expensive run "
                "(every [watch] expensive_every-th run)"
            )
        if args.no_store:
            return
        month = store_month(Path(tmp), args.series)
        print(
            f"store for a month at 30 s ({month['series']} series): {month['size_mb']:.1f} MB SQLite "
            f"(24 h raw + 30 days of 5-minute aggregates); one run's write {month['write_ms']:.0f} ms wall"
        )


if __name__ == "__main__":
    main()
