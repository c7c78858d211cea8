"""A real Dask cluster on 127.0.0.1 for the --cluster tests: ``dask scheduler`` and ``dask worker``
processes started as a user would (the dask CLI), on free ports, stopped and reaped afterwards.

``with DaskCluster(tmp_path, workers=2) as dc: dc.address`` — each worker is ``--nworkers 1
--nthreads 1 --no-dashboard``; :meth:`add_worker` starts one more (``--no-nanny`` so that killing
it kills the worker itself, not a nanny that would restart it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = [sys.executable, "-m", "dask"]
START_TIMEOUT_S = 60.0  # a loaded 2-core machine imports distributed slowly


class DaskCluster:
    def __init__(
        self, tmp: Path, workers: int = 2, env: dict[str, str] | None = None, preload: Path | None = None
    ) -> None:
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.n_workers = workers
        self.env = {**os.environ, **(env or {})}
        self.preload = preload
        self.procs: list[subprocess.Popen] = []
        self.address = ""
        self._client = None

    def _start(self, args: list[str], log: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(self.tmp / log, "ab")  # noqa: SIM115 - closed with the process in stop()
        proc = subprocess.Popen(
            [*DASK, *args], stdout=out, stderr=subprocess.STDOUT, env=env or self.env, start_new_session=True
        )  # its own group: stop() reaps its children too
        proc.log = out  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def __enter__(self) -> DaskCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        sched_file = self.tmp / "scheduler.json"
        self._start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            "scheduler.log",
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not sched_file.exists() or not sched_file.read_text().strip():
            if time.monotonic() > deadline or self.procs[0].poll() is not None:
                raise RuntimeError(
                    f"dask scheduler did not start: {(self.tmp / 'scheduler.log').read_text()}"
                )
            time.sleep(0.1)
        self.address = json.loads(sched_file.read_text())["address"]
        for i in range(self.n_workers):
            self.add_worker(f"cw{i + 1}", nanny=True, wait=False)
        self.wait_for(self.n_workers)

    def add_worker(
        self, name: str, *, nanny: bool = False, wait: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        args = [
            "worker",
            self.address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--name",
            name,
            "--nanny" if nanny else "--no-nanny",
            "--local-directory",
            str(self.tmp / "workers"),
        ]
        if self.preload is not None:
            args += ["--preload", str(self.preload)]
        before = len(self.workers()) if wait else 0
        proc = self._start(args, f"{name}.log", {**self.env, **(env or {})})
        if wait:
            self.wait_for(before + 1)
        return proc

    @property
    def client(self):
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout=30, set_as_default=False)
        return self._client

    def workers(self) -> dict[str, str]:
        """address → name of the workers the scheduler has now."""
        info = (
            self.client.scheduler_info(n_workers=-1) if _takes_n_workers() else self.client.scheduler_info()
        )
        return {addr: str(w["name"]) for addr, w in info["workers"].items() if addr in self.client.nthreads()}

    def wait_for(self, n: int) -> None:
        """Until the scheduler has exactly ``n`` workers (a killed one must be gone, a new one in)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(self.client.nthreads()) != n:
            if time.monotonic() > deadline:
                logs = {p.name: p.read_text()[-2000:] for p in self.tmp.glob("*.log")}
                raise RuntimeError(f"expected {n} dask workers, have {len(self.client.nthreads())}: {logs}")
            time.sleep(0.1)

    def pids(self) -> dict[str, int]:
        """name → pid of each worker process (the process that runs the engine)."""
        names = self.workers()
        return {names[addr]: pid for addr, pid in self.client.run(os.getpid).items() if addr in names}

    def stop(self) -> None:
        if self._client is not None:
            self._client.close(timeout=5)
            self._client = None
        for proc in reversed(self.procs):  # workers first, the scheduler last
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # a nanny's worker left behind, if any
            except ProcessLookupError:
                pass
            proc.log.close()  # type: ignore[attr-defined]
        self.procs.clear()


def _takes_n_workers() -> bool:
    import inspect

    from distributed import Client

    return "n_workers" in inspect.signature(Client.scheduler_info).parameters
