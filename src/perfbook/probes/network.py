"""Network probe: the runbook's "Network Performance" type, of the namespace perfbook runs in.

TCP retransmits, listen-queue overflows and errors (``/proc/net/snmp``, ``/proc/net/netstat``) and
interface rates, errors and drops (``/proc/net/dev``) diffed over the window; socket states, listen
queues, ephemeral ports and conntrack at its ends; and the TCP connect time to each configured
dependency (backend, PostgreSQL, Redis, frontend), timed every W/5 across the window. Readers take
their roots (``NetworkProbe(proc_root=..., sys_root=...)``) so the rules are tested on recorded
trees. Evidence: :mod:`perfbook.evidence.network`, judged by ``rules/network.py``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from perfbook.config import Config
from perfbook.evidence.network import DependencyLatency, NetworkEvidence
from perfbook.model import Evidence, ProbeStatus
from perfbook.probes import host_proc, network_build, procs
from perfbook.probes.base import BaseProbe, ProbeContext

LATENCY_SAMPLES = 5  # connects per dependency across the window (one in flight at a time)
_KEYWORD = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


class NetworkProbe(BaseProbe):
    """Read this machine's network counters over one window and time connects to the dependencies.

    ev = await NetworkProbe().collect(ctx)
    ev.data.tcp.listen_overflows, [(d.target, d.p95_ms) for d in ev.data.latency]
    """

    name: ClassVar[str] = "network"
    codes = "net"  # net.* findings are judged on its evidence (an alert on one is measured when it ran)
    evidence = NetworkEvidence
    rules = "perfbook.rules.network"
    local = True

    def __init__(self, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> None:
        self._proc = proc_root
        self._sys = sys_root

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Counters at both ends of the window, sockets at its end; connect timings spread across it."""
        procs.require_local(ctx)
        t0 = ctx.clock()
        before = await asyncio.to_thread(host_proc.read_counters, self._proc, host=False)
        latency = await asyncio.gather(
            *(_time_connects(ctx, t0, target, host, port) for target, host, port in dependencies(ctx.config))
        )
        await ctx.sleep(max(0.0, t0 + ctx.window_s - ctx.clock()))
        after, t1 = await asyncio.to_thread(host_proc.read_counters, self._proc, host=False), ctx.clock()
        sockets = await asyncio.to_thread(host_proc.read_sockets, self._proc)
        window_s = t1 - t0
        problems = list(dict.fromkeys(before.problems + after.problems))
        speeds = host_proc.read_link_speeds(self._sys, list(after.interfaces or {}))
        data = network_build.evidence(
            before,
            after,
            window_s,
            None,
            sockets,
            speeds,
            host_proc.read_port_range(self._proc),
            host_proc.read_conntrack(self._proc),
            list(latency),
            problems,
        )
        if data.tcp is None:
            problems.append(f"{self._proc}/net/snmp: not readable")
        if sockets is None:
            problems.append(f"{self._proc}/net/tcp: not readable")
        status: ProbeStatus = "partial" if problems else "ok"
        return Evidence(self.name, status, 0.0, reason="; ".join(problems) or None, data=data)


def dependencies(cfg: Config) -> list[tuple[str, str, int]]:
    """(config key, host, port) of each configured TCP dependency; unix sockets are left out.

    >>> from perfbook.config import load_config
    >>> cfg = load_config(env={"PERFBOOK_POSTGRES_DSN": "host=db.internal port=6432 dbname=app",
    ...                        "PERFBOOK_REDIS_URL": "redis://:pw@127.0.0.1:6380/0", "PERFBOOK_FRONTEND_URL": ""})
    >>> dependencies(cfg)
    [('http', 'localhost', 8001), ('postgres', 'db.internal', 6432), ('redis', '127.0.0.1', 6380)]
    """
    out: list[tuple[str, str, int]] = []
    for key, url, default in (
        ("http", cfg.http.base_url, None),
        ("postgres", cfg.postgres.dsn, 5432),
        ("redis", cfg.redis.url, 6379),
        ("frontend", cfg.frontend.url, None),
    ):
        if not url:
            continue
        if key == "postgres" and "://" not in url:
            fields = {k: v.strip("'") for k, v in _KEYWORD.findall(url)}
            host, port = (
                fields.get("host", "localhost").split(",")[0],
                fields.get("port", "5432").split(",")[0],
            )
            if not host.startswith("/") and port.isdigit():
                out.append((key, host, int(port)))
            continue
        try:
            parts = urlsplit(url)
            port = parts.port or default or (443 if parts.scheme in ("https", "wss") else 80)
        except ValueError:  # a malformed port: the layer's own probe reports it
            continue
        host = parts.hostname or "localhost"
        if not host.startswith("/") and "%2f" not in host.lower():
            out.append((key, host, port))
    return out


async def _time_connects(
    ctx: ProbeContext, t0: float, target: str, host: str, port: int
) -> DependencyLatency:
    spans: list[tuple[float, float] | None] = []
    error: str | None = None
    timeouts = 0
    for i in range(LATENCY_SAMPLES):
        await ctx.sleep(max(0.0, t0 + ctx.window_s * i / LATENCY_SAMPLES - ctx.clock()))
        began = ctx.clock()
        timeout = max(0.05, min(1.0, t0 + ctx.window_s - began))
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=timeout)
        except (OSError, TimeoutError) as err:
            spans.append(None)
            timeouts += isinstance(err, TimeoutError)
            error = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
            continue
        spans.append((began, ctx.clock()))
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    # perfbook's own event-loop stalls (triage measures them) are not the network's latency
    done = [s for s in spans if s is not None]
    lasted = ctx.less_own_stalls(done) or [end - began for began, end in done]
    it = iter(lasted)
    timings = [None if s is None else next(it) * 1000 for s in spans]
    return network_build.dependency_latency(target, f"{host}:{port}", timings, error, timeouts)
