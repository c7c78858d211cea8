"""The backend's process manager: two uvicorn workers on one listening socket, restarted if they die.

    python -m perfbook.lab.backend pblab-1a2b-api --fd 3 --settings STATE/backend.json --workers 2

What uvicorn's own ``--workers`` does, kept small so every process carries the lab's tag (uvicorn's
spawned workers would be anonymous ``python -c`` processes). It points PROMETHEUS_MULTIPROC_DIR at
the state directory, and when a worker exits calls ``mark_process_dead`` so its live gauges go.
SIGTERM stops the workers and then this process.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from perfbook.lab.proctitle import set_process_name

CHECK_S = 0.5
QUICK_EXIT_S = 3.0  # a worker that dies this soon after starting is crashing, not being recycled
MAX_QUICK_EXITS = 5


def _spawn(args: argparse.Namespace) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "perfbook.lab.worker",
        args.tag,
        "--fd",
        str(args.fd),
        "--settings",
        str(args.settings),
    ]
    return subprocess.Popen(cmd, pass_fds=[args.fd], stdin=subprocess.DEVNULL)


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="perfbook.lab.backend")
    parser.add_argument("tag")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--metrics-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    set_process_name(args.tag)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(args.metrics_dir)

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    workers = [_spawn(args) for _ in range(args.workers)]
    started = [time.monotonic()] * len(workers)
    quick_exits = 0
    while not stopping.wait(CHECK_S):
        for i, worker in enumerate(workers):
            if worker.poll() is not None:  # died (or was recycled): replace it, as uvicorn does
                _mark_dead(worker.pid)
                quick_exits += time.monotonic() - started[i] < QUICK_EXIT_S
                if quick_exits > MAX_QUICK_EXITS:
                    sys.stderr.write(f"workers keep crashing (exit {worker.returncode}): giving up\n")
                    stopping.set()
                    break
                workers[i], started[i] = _spawn(args), time.monotonic()
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        _mark_dead(worker.pid)


if __name__ == "__main__":
    main()
