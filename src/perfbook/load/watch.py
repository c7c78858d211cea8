"""``--watch``: sample the host and the configured processes while a load test runs.

A background thread samples every ``interval_s`` with psutil (the runbook's "monitor system
resources during test"); only this machine is sampled, so it is meaningful for local targets.
"""

from __future__ import annotations

import threading
from typing import Any

import psutil


class ResourceWatch:
    """``with ResourceWatch(["uvicorn"]) as w: …; w.summary()``"""

    def __init__(self, patterns: list[str], interval_s: float = 0.5) -> None:
        self.patterns = [p.lower() for p in patterns]
        self.interval_s = interval_s
        self.host_cpu: list[float] = []
        self.host_mem: list[float] = []
        self.procs: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ResourceWatch:
        psutil.cpu_percent(None)
        self._handles = [p for p in psutil.process_iter(["name", "cmdline"]) if self._matches(p)]
        for p in self._handles:
            try:
                p.cpu_percent(None)
            except psutil.Error:
                pass
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def _matches(self, proc: psutil.Process) -> bool:
        text = " ".join([proc.info.get("name") or "", *(proc.info.get("cmdline") or [])]).lower()
        return any(p in text for p in self.patterns)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.host_cpu.append(psutil.cpu_percent(None))
            self.host_mem.append(psutil.virtual_memory().percent)
            for p in self._handles:
                try:
                    cpu, rss = p.cpu_percent(None), p.memory_info().rss
                except psutil.Error:
                    continue
                entry = self.procs.setdefault(
                    p.pid, {"name": p.info.get("name") or str(p.pid), "cpu": [], "rss": []}
                )
                entry["cpu"].append(cpu)
                entry["rss"].append(rss)

    def summary(self) -> dict[str, Any] | None:
        """Means and maxima over the samples (None when the test was too short to sample)."""
        if not self.host_cpu:
            return None
        return {
            "samples": len(self.host_cpu),
            "host_cpu_pct_mean": round(sum(self.host_cpu) / len(self.host_cpu), 1),
            "host_cpu_pct_max": max(self.host_cpu),
            "host_memory_pct_max": max(self.host_mem),
            "processes": [
                {"pid": pid, "name": e["name"], "cpu_pct_max": max(e["cpu"]), "rss_bytes_max": max(e["rss"])}
                for pid, e in self.procs.items()
                if e["cpu"]
            ],
        }
