"""perfbook load --cluster against a real Dask scheduler and two workers, checked at the server.

The server (arrival_server.py, its own process) counts every request and notes when it came and
from which client port; the ports are matched to the worker processes while the run is on, so
"both workers send from the first 100 ms" is seen at the server, not taken from perfbook's report.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from arrival_server import ArrivalServer

from perfbook.load import hist

pytestmark = pytest.mark.slow
PERFBOOK = [sys.executable, "-m", "perfbook"]
CATCH_UP_S = 0.3


def perfbook(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PERFBOOK, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def start_perfbook(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*PERFBOOK, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(predicate, timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"perfbook ended early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.05)


def ports_of(pids: dict[str, int], server_port: int) -> dict[int, str]:
    """client port → worker name, from the open connections to the server of each worker's engine
    process (the worker process's child)."""
    owner = {}
    for name, pid in pids.items():
        for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            conns = (
                proc.net_connections(kind="tcp")
                if hasattr(proc, "net_connections")
                else proc.connections("tcp")
            )
            for conn in conns:
                if conn.raddr and conn.raddr.port == server_port:
                    owner[conn.laddr.port] = name
    return owner


def machine_load() -> str:
    load1, _, _ = os.getloadavg()
    return f"load average {load1:.1f} on {os.cpu_count()} cores"


def test_n_is_split_exactly_and_counted_at_the_server(cluster, tmp_path):
    out = tmp_path / "run.json"
    with ArrivalServer(tmp_path) as srv:
        res = perfbook(
            "load",
            srv.url,
            "-n",
            "20000",
            "-c",
            "20",
            "--cluster",
            cluster.address,
            "--slo",
            "errors<1%",
            "-o",
            str(out),
        )
        served = srv.stop()["count"]
    assert res.returncode == 0, res.stderr
    assert served == 20_000
    doc = json.loads(out.read_text())
    assert doc["requests"] == 20_000 and doc["workers"] == 2 and doc["slo"][0]["met"]
    rows = doc["cluster"]["workers"]
    assert sorted(r["name"] for r in rows) == ["cw1", "cw2"]
    assert [r["requests"] for r in rows] == [10_000, 10_000] and not doc["cluster"]["partial"]
    # one machine, one clock
    assert all(abs(r["clock_offset_s"]) <= r["clock_uncertainty_s"] + 0.002 for r in rows)
    # the text report: the per-worker table under the summary
    assert "cw1" in res.stdout and "cw2" in res.stdout and "clock offset" in res.stdout
    assert "20,000 requests" in res.stdout
    cmp = perfbook("load", "compare", str(out), str(out), "--json")
    assert cmp.returncode == 0 and json.loads(cmp.stdout)["figures"][0]["a"] == 20_000


def _open_loop_at_the_server(cluster, tmp_path) -> dict:
    """One --rate 2000 -d 10s run, seen at the server: 100 ms bins, which worker sent what, stalls."""
    pids = cluster.pids()
    with ArrivalServer(tmp_path) as srv:
        proc = start_perfbook(
            "load", srv.url, "--rate", "2000", "-d", "10s", "-c", "20", "--cluster", cluster.address, "--json"
        )
        wait_until(lambda: srv.count() > 2000, 60, proc)  # a second in: every connection is open
        owner = ports_of(pids, srv.port)
        stdout, stderr = proc.communicate(timeout=60)
        seen = srv.stop()
    assert proc.returncode == 0, stderr
    arrivals = sorted(seen["arrivals"])
    first = arrivals[0][0]
    bins = [0] * 100
    for t, _ in arrivals:
        bins[min(int((t - first) / 0.1), 99)] += 1
    # While the server itself is not scheduled, nothing it timestamps is the client's timing, and
    # the connections (one request in flight each) catch up in the 300 ms after: such bins measure
    # the machine, not perfbook. They are named, never silently absorbed into a looser bound.
    blind = set()
    for t, lag in seen["stalls"]:
        blind |= set(range(int((t - lag - first) / 0.1), int((t + CATCH_UP_S - first) / 0.1) + 1))
    return {
        "report": json.loads(stdout),
        "arrivals": arrivals,
        "bins": bins,
        "owner": owner,
        "blind": sorted(b for b in blind if 0 <= b < 100),
        "stalls": seen["stalls"],
    }


def test_open_loop_rate_is_held_and_arrivals_are_even(cluster, tmp_path):
    for attempt in range(2):  # a loaded machine gets one more try, then the test says why it cannot judge
        seen = _open_loop_at_the_server(cluster, tmp_path / f"try{attempt}")
        if len(seen["blind"]) <= 10:
            break
    else:
        pytest.skip(
            f"too loaded to measure 100 ms bins: the server itself stalled in {len(seen['blind'])} of "
            f"100 bins, twice ({machine_load()}); nothing judged"
        )
    arrivals, bins = seen["arrivals"], seen["bins"]
    assert len(arrivals) == 20_000 and seen["report"]["requests"] == 20_000
    rate = (len(arrivals) - 1) / (arrivals[-1][0] - arrivals[0][0])
    assert rate == pytest.approx(2000, rel=0.02), f"{rate:.0f} rps at the server ({machine_load()})"
    measured = [n for i, n in enumerate(bins) if i not in seen["blind"]]
    worst = max(abs(n - 200) / 200 for n in measured)
    assert worst <= 0.20, (
        f"100 ms bins vary by up to {worst:.0%} (bound 20 %): {bins}, bins {seen['blind']} left out (the server "
        f"stalled); {machine_load()}"
    )
    first = arrivals[0][0]
    senders = {seen["owner"].get(port) for t, port in arrivals if t - first < 0.1}
    assert senders == {"cw1", "cw2"}, (
        f"senders in the first 100 ms: {senders} (ports known: {len(seen['owner'])})"
    )


def test_latency_is_right_and_the_merge_is_exact(cluster, tmp_path):
    misses = []
    # timing under a loaded machine gets one more try (the merge must hold every time)
    for attempt in range(2):
        for path in cluster.samples.iterdir():
            path.unlink()
        with ArrivalServer(tmp_path / f"try{attempt}", delay_s=0.05) as srv:
            res = perfbook("load", srv.url, "-d", "4s", "-c", "40", "--cluster", cluster.address, "--json")
            served = sorted(srv.stop()["service_s"])
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        # one histogram of both workers' raw samples (kept by sample_tap.py) == the merged report
        files = [p for p in cluster.samples.iterdir() if p.stat().st_size]
        assert len(files) == 2, files  # each worker's latencies (closed loop: one histogram each)
        together = hist.new_histogram()
        per_worker = []
        for path in files:
            values = [float(line) for line in path.read_text().split()]
            per_worker.append(len(values))
            hist.record_batch(together, values)
        assert sorted(per_worker) == sorted(r["responses"] for r in doc["cluster"]["workers"])
        assert hist.latency_summary(together) == doc["latency"]
        # the per-second series: both workers' seconds merged, one row a second, adding up to the total
        assert [row["t_s"] for row in doc["series"]] == [0, 1, 2, 3]
        assert sum(row["requests"] for row in doc["series"]) == doc["requests"]
        # a 50 ms server: perfbook's p50 within 5 % of it, and of what the server really applied
        p50, server_p50 = doc["latency"]["p50_s"], served[len(served) // 2]
        if abs(p50 - 0.050) <= 0.0025 and abs(p50 - server_p50) <= 0.05 * server_p50:
            return
        misses.append(f"p50 {p50 * 1e3:.2f} ms, the server's own {server_p50 * 1e3:.2f} ms")
    load1 = os.getloadavg()[0]
    if load1 > 2 * (os.cpu_count() or 1):
        pytest.skip(f"too loaded to judge latency to 5 %: {'; '.join(misses)} ({machine_load()})")
    pytest.fail(f"latency off by more than 5 %: {'; '.join(misses)} ({machine_load()})")


def test_a_lost_worker_is_named_and_the_run_is_partial(cluster, tmp_path):
    doomed = cluster.add_worker("doomed")  # --no-nanny: killing it kills the worker itself
    out = tmp_path / "run.json"
    with ArrivalServer(tmp_path) as srv:
        proc = start_perfbook(
            "load", srv.url, "-d", "8s", "-c", "6", "--cluster", cluster.address, "-o", str(out)
        )
        wait_until(lambda: srv.count() > 6000, 60, proc)
        # the client polls every second, and a first poll on a busy machine can take a second or
        # more: give the doomed worker's counts time to reach the client before it is killed
        time.sleep(3.5)
        engines = psutil.Process(doomed.pid).children()  # the share's engine process
        doomed.send_signal(signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
    gone, alive = psutil.wait_procs(engines, timeout=5)
    assert engines and not alive, "the lost worker's engine process kept running"
    assert proc.returncode == 1, stderr
    doc = json.loads(out.read_text())
    assert doc["cluster"]["partial"] is True and doc["cluster"]["missing"] == ["doomed"]
    rows = {r["name"]: r for r in doc["cluster"]["workers"]}
    assert rows["doomed"]["status"] == "lost" and rows["doomed"]["requests"] > 0  # what it sent until then
    assert rows["cw1"]["status"] == rows["cw2"]["status"] == "ok"
    assert doc["requests"] == rows["cw1"]["requests"] + rows["cw2"]["requests"]
    assert "doomed" in stdout and "partial" in stdout


def test_ctrl_c_stops_every_worker(cluster, tmp_path):
    with ArrivalServer(tmp_path) as srv:
        proc = start_perfbook("load", srv.url, "-d", "30s", "-c", "4", "--cluster", cluster.address, "--json")
        wait_until(lambda: srv.count() > 1000, 60, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
        after_exit = srv.count()
        time.sleep(1.0)
        later = srv.count()
    assert proc.returncode == 130, stderr
    doc = json.loads(stdout)
    assert doc["interrupted"] is True and doc["duration_s"] < 20
    assert later == after_exit, "a worker kept sending after the client stopped"


def test_workers_stop_by_themselves_when_the_client_dies(cluster, tmp_path):
    with ArrivalServer(tmp_path) as srv:
        proc = start_perfbook("load", srv.url, "-d", "60s", "-c", "4", "--cluster", cluster.address, "--json")
        wait_until(lambda: srv.count() > 1000, 60, proc)
        proc.kill()  # no Ctrl-C, no goodbye: only the workers' watchdog can stop the load
        proc.communicate(timeout=10)
        killed_at = time.monotonic()
        last, still_since = srv.count(), time.monotonic()
        while time.monotonic() - still_since < 2.0:  # until nothing arrived for 2 s
            assert time.monotonic() - killed_at < 30, "workers still sending 30 s after the client died"
            time.sleep(0.2)
            if srv.count() != last:
                last, still_since = srv.count(), time.monotonic()
    assert still_since - killed_at < 15  # the 10 s watchdog, and a tick


def test_unreachable_target_errors_by_kind_on_each_worker(cluster):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    res = perfbook(
        "load",
        f"http://127.0.0.1:{port}/",
        "-n",
        "5000",
        "--json",
        env={"PERFBOOK_LOAD_CLUSTER": cluster.address},
    )  # the cluster from the environment
    assert res.returncode != 0
    doc = json.loads(res.stdout)
    rows = doc["cluster"]["workers"]
    assert len(rows) == 2 and all(r["errors"].get("connect_refused", 0) > 0 for r in rows)
    assert doc["errors"]["connect_refused"] == sum(r["errors"]["connect_refused"] for r in rows)


def test_a_wrong_scheduler_is_one_line_and_exit_2_before_any_load(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with ArrivalServer(tmp_path) as srv:
        refused = perfbook("load", srv.url, "-n", "100", "--cluster", f"tcp://127.0.0.1:{free}")
        not_dask = perfbook("load", srv.url, "-n", "100", "--cluster", f"127.0.0.1:{srv.port}")
        served = srv.stop()["count"]
    for res, says in ((refused, "cannot reach the Dask scheduler"), (not_dask, "is not a Dask scheduler")):
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and lines[0].startswith("error: --cluster:") and says in lines[0], (
            res.stderr
        )
        assert len(lines) <= 2 and all(ln.startswith(("error:", "hint:")) for ln in lines), res.stderr
    assert served == 0


def test_no_workers_and_a_version_mismatch_are_refused_before_any_load(tmp_path):
    pytest.importorskip("distributed")
    from dask_cluster import DaskCluster

    fake = tmp_path / "fake-site"  # another perfbook's metadata, found first on the worker's path
    (fake / "perfbook-9.9.9.dist-info").mkdir(parents=True)
    (fake / "perfbook-9.9.9.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: perfbook\nVersion: 9.9.9\n"
    )
    with DaskCluster(tmp_path / "dask", workers=0) as dc, ArrivalServer(tmp_path) as srv:
        empty = perfbook("load", srv.url, "-n", "100", "--cluster", dc.address)
        dc.add_worker("old", env={"PYTHONPATH": str(fake)})
        old = perfbook("load", srv.url, "-n", "100", "--cluster", dc.address)
        served = srv.stop()["count"]
    assert empty.returncode == 2 and "has no workers" in empty.stderr.splitlines()[0], empty.stderr
    assert old.returncode == 2, old.stderr
    assert "workers need perfbook 0.1.0" in old.stderr and "perfbook 9.9.9" in old.stderr
    assert served == 0


def test_capacity_runs_its_steps_on_the_cluster(cluster, tmp_path):
    with ArrivalServer(tmp_path) as srv:
        res = perfbook(
            "capacity",
            srv.url,
            "--cluster",
            cluster.address,
            "--slo",
            "p95<200ms,errors<1%",
            "--start-rate",
            "200",
            "--max-rate",
            "400",
            "--step-duration",
            "1s",
            "--json",
        )
        served = srv.stop()["count"]
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["knee_rps"] == 400 and [s["workers"] for s in doc["steps"]] == [2, 2]
    assert served == sum(s["requests"] for s in doc["steps"]) == 600


def test_cluster_option_is_in_the_help():
    res = perfbook("load", "--help", env={"COLUMNS": "200"})
    assert "--cluster" in res.stdout and "PERFBOOK_LOAD_CLUSTER" in res.stdout
