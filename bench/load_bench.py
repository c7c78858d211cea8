"""Driver of bench/load_vs_peers.sh: run each load tool against the same local server, read its
request count from its own output and its CPU time (user + sys) from the OS (wait4 rusage),
then print requests/s, client CPU µs per request, and perfbook's ratios to each peer.

Usage: load_bench.py URL DURATION_S CONNECTIONS CLIENT_CPU WORKDIR [DELAY_URL]
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PERFBOOK = [sys.executable, "-m", "perfbook"]
LOCUSTFILE = """from locust import task
from locust.contrib.fasthttp import FastHttpUser


class Bench(FastHttpUser):
    @task
    def get(self):
        self.client.get("/")
"""


def measured(cmd: list[str], cpu: str) -> tuple[str, float]:
    """Run ``cmd`` pinned to ``cpu``; its output and its (and its children's) user+sys seconds."""
    proc = subprocess.Popen(
        ["taskset", "-c", cpu, *cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return out, usage.ru_utime + usage.ru_stime


def run_tool(name: str, url: str, dur: int, conns: int, cpu: str, work: Path) -> dict | None:
    """One tool's run: requests, rps and CPU seconds, or None when the tool is not installed."""
    if name == "wrk":
        if not shutil.which("wrk"):
            return None
        out, cpu_s = measured(["wrk", "-t1", f"-c{conns}", f"-d{dur}s", url], cpu)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    elif name == "hey":
        if not shutil.which("hey"):
            return None
        out, cpu_s = measured(["hey", "-z", f"{dur}s", "-c", str(conns), url], cpu)
        requests = sum(int(n) for n in re.findall(r"\[\d{3}\]\s+(\d+) responses", out))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    elif name == "ab":
        if not shutil.which("ab"):
            return None
        out, cpu_s = measured(
            ["ab", "-q", "-k", "-c", str(conns), "-t", str(dur), "-n", "100000000", url], cpu
        )
        requests = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
        rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    elif name == "locust":
        locust = work / "locust-venv" / "bin" / "locust"
        if not locust.exists():
            return None
        (work / "locustfile.py").write_text(LOCUSTFILE)
        prefix = work / "locust"
        _, cpu_s = measured(
            [
                str(locust),
                "-f",
                str(work / "locustfile.py"),
                "--headless",
                "-u",
                str(conns),
                "-r",
                str(conns),
                "-t",
                f"{dur}s",
                "--host",
                url.rstrip("/"),
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cpu,
        )
        with open(f"{prefix}_stats.csv") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
        requests, rps = int(row["Request Count"]), float(row["Requests/s"])
    elif name == "perfbook":
        out, cpu_s = measured([*PERFBOOK, "load", url, "-d", f"{dur}s", "-c", str(conns), "--json"], cpu)
        doc = json.loads(out[out.index("{") :])
        requests, rps = doc["requests"], doc["rps"]
    return {
        "tool": name,
        "requests": requests,
        "rps": rps,
        "cpu_s": cpu_s,
        "us_per_req": cpu_s * 1e6 / max(requests, 1),
    }


def startup_cpu_s(url: str, cpu: str) -> float:
    """perfbook's fixed cost (interpreter, imports, one request): subtracted for the steady-state figure."""
    _, cpu_s = measured([*PERFBOOK, "load", url, "-n", "1", "--json"], cpu)
    return cpu_s


def accuracy(url: str, delay_url: str | None, cpu: str) -> None:
    """p50 against a fixed 50 ms server, and the achieved rate of --rate up to 10,000 rps."""
    if delay_url:
        out, _ = measured([*PERFBOOK, "load", delay_url, "-d", "5s", "-c", "10", "--json"], cpu)
        p50 = json.loads(out[out.index("{") :])["latency"]["p50_s"]
        print(
            f"latency: fixed 50 ms server, perfbook p50 {p50 * 1e3:.2f} ms ({(p50 - 0.05) / 0.05:+.1%}; bar ±5 %)"
        )
    for rate in (1000, 5000, 10000):
        conns = max(50, rate // 100)  # 100 rps per connection: well inside 1 ms timer resolution
        out, _ = measured(
            [*PERFBOOK, "load", url, "--rate", str(rate), "-d", "5s", "-c", str(conns), "--json"], cpu
        )
        doc = json.loads(out[out.index("{") :])
        print(
            f"rate: asked {rate:>6,} rps ({conns} connections), achieved {doc['rps']:>9,.1f} rps "
            f"({doc['rps'] / rate - 1:+.2%}; bar ±2 %), "
            f"corrected p99 {doc['latency']['p99_s'] * 1e3:.2f} ms"
        )


def main() -> None:
    url, dur, conns, cpu, work = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
        Path(sys.argv[5]),
    )
    delay_url = sys.argv[6] if len(sys.argv) > 6 else None
    repeat = int(os.environ.get("REPEAT", "1"))
    best: dict[str, dict] = {}
    for round_ in range(repeat):  # tools take turns, so a noisy minute hits them all alike
        for name in ("wrk", "perfbook", "hey", "ab", "locust"):
            row = run_tool(name, url, dur, conns, cpu, work)
            if row is None:
                if round_ == 0:
                    print(f"{name}: not installed here, skipped")
                continue
            if name not in best or row["us_per_req"] < best[name]["us_per_req"]:
                best[name] = row
    rows = list(best.values())
    if repeat > 1:
        print(f"best of {repeat} runs per tool (lowest CPU per request)")
    fixed_s = startup_cpu_s(url, cpu)
    print(f"\n{'tool':<10}{'requests':>12}{'req/s':>12}{'CPU s':>9}{'CPU µs/req':>12}")
    for r in rows:
        print(
            f"{r['tool']:<10}{r['requests']:>12,}{r['rps']:>12,.0f}{r['cpu_s']:>9.2f}{r['us_per_req']:>12.2f}"
        )
    ours = next(r for r in rows if r["tool"] == "perfbook")
    steady = (ours["cpu_s"] - fixed_s) * 1e6 / ours["requests"]
    print(f"perfbook steady state (less {fixed_s:.2f} s start-up CPU): {steady:.2f} µs/req")
    print("\nperfbook CPU per request / peer's (lower is better; bars: wrk ≤ 1.5, hey < 1, locust ≤ 0.2):")
    for r in rows:
        if r is not ours:
            print(
                f"  vs {r['tool']:<7} {ours['us_per_req'] / r['us_per_req']:.2f}  "
                f"(steady state {steady / r['us_per_req']:.2f});  throughput ratio {ours['rps'] / r['rps']:.2f}"
            )
    print()
    accuracy(url, delay_url, cpu)


if __name__ == "__main__":
    main()
