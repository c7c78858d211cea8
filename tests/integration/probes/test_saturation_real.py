"""Saturation made for real on this machine, each bounded in time, then seen by perfbook: CPU
(stress-ng over more workers than cores), a listen queue overflowing (backlog 1, 300 concurrent
connects), a process near its ``ulimit -n``, disk I/O (fio, direct I/O under the test's temp dir)
and an OOM kill in a memory-limited cgroup the test creates. Each skips with its reason when the
tool or the privilege is missing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfbook.config import Config
from perfbook.model import Level
from perfbook.probes.host import HostProbe
from perfbook.probes.network import NetworkProbe
from perfbook.probes.process import ProcessProbe
from perfbook.rules import host as host_rules
from perfbook.rules import network as network_rules
from perfbook.rules import process as process_rules

from .probe_children import child, fake_perfbook, new_tag, run

QUIET = {"http": {"base_url": ""}, "frontend": {"url": ""}, "postgres": {"dsn": ""}, "redis": {"url": ""}}


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (scripts/system-deps.sh installs it)")
    return path


@contextlib.contextmanager
def background(*argv: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def by_code(findings: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f.code, []).append(f)
    return out


async def test_more_cpu_workers_than_cores_is_cpu_saturation():
    stress = need("stress-ng")
    cores = os.cpu_count() or 1
    with background(stress, "--cpu", str(max(6, 3 * cores)), "--timeout", "12s"):
        await asyncio.sleep(1.0)  # let the workers start and the queue build
        ev, _ = await run(HostProbe(), Config.model_validate(QUIET), 2.0)
    assert ev.status == "ok", ev.reason
    cpu = ev.data.saturation.cpu
    assert cpu.runnable_mean > cores, cpu
    (f,) = by_code(host_rules.evaluate({"host": ev}, Config()))["host.cpu_saturated"]
    assert f.subject == ev.data.hostname and f.evidence["runnable_mean"] > cores
    if cpu.psi is not None:
        assert cpu.psi.some_pct >= 25 and f.value == cpu.psi.some_pct


async def test_a_full_accept_queue_is_a_critical_listen_overflow_on_its_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # and never accept
    port = server.getsockname()[1]
    clients: list[socket.socket] = []

    def connect_all() -> None:
        for _ in range(300):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            clients.append(c)

    try:
        probe = asyncio.create_task(run(NetworkProbe(), Config.model_validate(QUIET), 2.0))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(connect_all)
        ev, _ = await probe
    finally:
        for c in clients:
            c.close()
        server.close()
    assert ev.status == "ok", ev.reason
    assert ev.data.tcp.listen_overflows > 0
    ours = [lst for lst in ev.data.sockets.listeners if lst.port == port]
    assert ours and ours[0].queued >= 2  # listen(1) holds backlog + 1 connections
    assert ours[0].backlog == 1  # read over sock_diag, as ss's Send-Q
    (f,) = by_code(network_rules.evaluate({"network": ev}, Config()))["net.listen_overflows"]
    assert f.level == Level.CRITICAL and port in f.evidence["ports"]
    assert f.issue_type.value == "network"


FD_HOLDER = (
    "# {tag}\nimport os, resource, time\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
    "held = [os.open('/dev/null', os.O_RDONLY) for _ in range({n})]\ntime.sleep({s})\n"
)


async def test_a_process_near_its_open_files_limit_is_fd_exhaustion():
    tag = new_tag()
    with fake_perfbook() as own_pid, child(FD_HOLDER, tag=tag, limit=256, n=240, s=20) as holder:
        await asyncio.sleep(0.5)  # until it has opened them
        cfg = Config.model_validate({"process": {"match": [tag]}})
        ev, _ = await run(ProcessProbe(), cfg, 1.0, own_pid=own_pid)
    (p,) = [p for p in ev.data.processes if p.pid == holder.pid]
    assert p.fd_soft_limit == 256 and p.open_fds >= 240 and p.threads == 1
    (f,) = by_code(process_rules.evaluate({"process": ev}, cfg))["process.fd_exhaustion"]
    assert f.subject == f"{p.name}[{holder.pid}]" and f.value >= 90 and f.level == Level.WARNING


async def test_direct_io_from_fio_is_disk_io_saturation(tmp_path: Path):
    fio = need("fio")
    data = tmp_path / "fio.dat"
    prepare = subprocess.run(
        [
            fio,
            "--name=prep",
            f"--filename={data}",
            "--size=64M",
            "--rw=write",
            "--bs=1M",
            "--direct=1",
            "--ioengine=psync",
        ],
        capture_output=True,
        timeout=60,
    )
    if prepare.returncode != 0:
        pytest.skip(f"fio cannot do direct I/O under {tmp_path}: {prepare.stderr.decode()[-200:]}")
    with background(
        fio,
        "--name=t",
        f"--filename={data}",
        "--size=64M",
        "--rw=randread",
        "--bs=4k",
        "--direct=1",
        "--ioengine=psync",
        "--numjobs=8",
        "--time_based",
        "--runtime=10",
    ):
        await asyncio.sleep(1.0)
        ev, _ = await run(HostProbe(), Config.model_validate(QUIET), 2.0)
    assert ev.status == "ok", ev.reason
    sat = ev.data.saturation
    busiest = sat.disks[0]
    assert busiest.reads_per_s > 500 and busiest.util_pct > 20, busiest  # fio's reads, counted per device
    (f, *_) = by_code(host_rules.evaluate({"host": ev}, Config()))["host.disk_io_saturated"]
    assert f.evidence["psi_some_pct"] == (sat.io_psi.some_pct if sat.io_psi else None)
    # pidstat -d
    assert sat.top_io and sat.top_io[0].name == "fio" and sat.top_io[0].read_bytes_per_s > 1e6, sat.top_io
    assert "most I/O: fio[" in f.title


def memory_cgroup(tag: str) -> tuple[Path, str, str]:
    """A new memory-limited cgroup: (its directory, the limit file, the cgroup path the kernel logs)."""
    v2 = Path("/sys/fs/cgroup")
    if (
        "memory" in (v2 / "cgroup.controllers").read_text().split()
        if (v2 / "cgroup.controllers").exists()
        else False
    ):
        root, limit = v2, "memory.max"
    else:
        root, limit = v2 / "memory", "memory.limit_in_bytes"  # cgroup v1 (hybrid hierarchy)
    if os.geteuid() != 0 or not os.access(root, os.W_OK):
        pytest.skip(f"cannot create a cgroup under {root} (needs root and a writable cgroup fs)")
    path = root / tag
    try:
        path.mkdir()
    except OSError as err:
        pytest.skip(f"cannot create {path}: {err.strerror}")
    return path, limit, f"/{tag}"


ALLOCATE = (
    "import os, sys, time\nopen(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))\n"
    "time.sleep(0.5)\nheld = [bytearray(16 * 1024 * 1024) for _ in range(40)]\ntime.sleep(5)\n"
)


async def test_an_oom_kill_in_a_memory_limited_cgroup_is_critical_and_named():
    tag = f"perfbook-oom-{uuid.uuid4().hex[:8]}"
    path, limit, logged = memory_cgroup(tag)
    try:
        (path / limit).write_text(str(64 * 1024 * 1024))
        if (path / "memory.swap.max").exists():
            (path / "memory.swap.max").write_text("0")
        probe = asyncio.create_task(run(HostProbe(), Config.model_validate(QUIET), 2.0))
        await asyncio.sleep(0.2)
        victim = subprocess.Popen([sys.executable, "-c", ALLOCATE, str(path)])
        rc = await asyncio.to_thread(victim.wait, 15)
        ev, _ = await probe
    finally:
        deadline = time.monotonic() + 5
        while path.exists() and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                path.rmdir()
            await asyncio.sleep(0.1)
    assert rc == -9, f"the allocator was not OOM-killed (exit {rc})"
    mem = ev.data.saturation.memory
    assert mem.oom_kills >= 1
    kills = by_code(host_rules.evaluate({"host": ev}, Config()))["host.oom_kill"]
    assert all(f.level == Level.CRITICAL for f in kills)
    if mem.kernel_log is None:  # the kernel log was readable: the victim is named, with its cgroup
        ours = [
            f for f in kills if f.subject == f"python3[{victim.pid}]" or f.evidence.get("pid") == victim.pid
        ]
        assert ours and ours[0].evidence["cgroup"] == logged


def cpu_cgroup(tag: str) -> Path:
    """A new CPU cgroup capped at a tenth of a core (cgroup v2 cpu.max, else v1 cfs_quota_us): low enough
    that a busy loop exceeds it even on this loaded machine."""
    v2 = Path("/sys/fs/cgroup")
    controllers = (
        (v2 / "cgroup.controllers").read_text().split() if (v2 / "cgroup.controllers").exists() else []
    )
    root = v2 if "cpu" in controllers else v2 / "cpu"
    if os.geteuid() != 0 or not os.access(root, os.W_OK):
        pytest.skip(f"cannot create a cgroup under {root} (needs root and a writable cgroup fs)")
    path = root / tag
    try:
        path.mkdir()
        if root == v2:
            (path / "cpu.max").write_text("10000 100000")
        else:
            (path / "cpu.cfs_period_us").write_text("100000")
            (path / "cpu.cfs_quota_us").write_text("10000")
    except OSError as err:
        with contextlib.suppress(OSError):
            path.rmdir()
        pytest.skip(f"cannot make a CPU-limited cgroup at {path}: {err.strerror}")
    return path


SPIN_IN = (
    "# {tag}\nimport os, sys, time\nopen({procs!r}, 'w').write(str(os.getpid()))\n"
    "end = time.time() + {s}\nwhile time.time() < end:\n    pass\n"
)


async def test_a_configured_process_in_a_cpu_limited_cgroup_is_throttled():
    tag = new_tag()
    path = cpu_cgroup(f"perfbook-cpu-{uuid.uuid4().hex[:8]}")
    try:
        with (
            fake_perfbook() as own_pid,
            child(SPIN_IN, tag=tag, procs=str(path / "cgroup.procs"), s=8) as spinner,
        ):
            await asyncio.sleep(0.5)
            cfg = Config.model_validate({"process": {"match": [tag]}})
            ev, _ = await run(ProcessProbe(), cfg, 2.0, own_pid=own_pid)
    finally:
        deadline = time.monotonic() + 5
        while path.exists() and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                path.rmdir()
            await asyncio.sleep(0.1)
    (p,) = [p for p in ev.data.processes if p.pid == spinner.pid]
    assert p.cpu_periods is not None and p.cpu_periods >= 10, p
    # held near its 10 % quota (slack for a loaded machine)
    assert p.cpu_pct is not None and p.cpu_pct <= 35, p
    got = by_code(process_rules.evaluate({"process": ev}, cfg))
    assert "process.cpu_throttled" in got, (p, got)
    (f,) = got["process.cpu_throttled"]
    assert f.subject == f"{p.name}[{spinner.pid}]" and f.value >= 0.25
