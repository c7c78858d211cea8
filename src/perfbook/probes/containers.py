"""Containers probe: the runbook's ``docker stats``, ``docker top`` and ``docker system df``, over the API.

Talks to the Docker Engine API (Docker, or Podman's ``system service``) through the ``docker`` SDK.
The SDK is synchronous, so every call runs in this probe's own small thread pool under a timeout,
never on the event loop. Across the window it samples each container's stats (CPU from
``total_usage`` deltas over wall time, which also works where ``precpu`` is empty, as on Podman),
reads the die / oom events of the last ``RESTART_LOOKBACK_S`` plus the window (a loop in back-off
rarely restarts inside a 2 s window), ``top`` once and the engine's ``df``.

Evidence contract (read by ``rules/containers.py`` and ``report/containers.py``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from perfbook.model import Evidence
from perfbook.probes import container_parse as parse
from perfbook.probes.base import ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.container_build import ContainersEvidence, EngineDisk, build_container, process_rows
from perfbook.redact import redact_url

RESTART_LOOKBACK_S = 600.0  # die events counted over the last 10 minutes, plus the window
MAX_CONTAINERS = 30  # API calls stay bounded on a busy host; the rest are named in a note
MAX_EVENTS = 5000
CONNECT_TIMEOUT_S = 2.0
CALL_TIMEOUT_S = 1.5
API_VERSION = "1.41"  # Docker 20.10+, Podman 3+; the first with one-shot stats
ACTIVE_STATES = ("running", "restarting", "paused")  # what `docker ps` lists
# `top` arguments: Docker runs ps(1) on the host; Podman takes psgo descriptors (and runs ps
# inside the container for anything else, which busybox images answer badly).
PS_ARGS = {"docker": "-eo pid,pcpu,rss,args", "podman": "pid,pcpu,rss,args"}


class ContainersProbe:
    """Sample the selected containers across the window and read the engine's disk use.

        ev = await run_probe(ContainersProbe(), ctx, budget_s=4.0)
        ev.data.containers[0].cpu_pct   # of its CPU limit, or of one core × cores
    """

    name = "containers"

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall = wall_clock

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Gather the evidence; ProbeUnavailable when no engine answers at the configured address."""
        cfg = ctx.config
        if not ctx.local and cfg.host.remote != "force":
            raise ProbeSkipped('remote target: containers describe this machine (set [host] remote = "force")')
        try:
            import docker
        except ImportError:
            raise ProbeSkipped("the docker SDK is not installed: pip install 'perfbook[docker]'") from None
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="perfbook-containers")
        try:
            session = _Session(docker, cfg.containers.engine_url(), ctx, pool, self._wall)
            return await session.run()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


class _Session:
    """One probe run: the client, the thread pool and the calls made through them."""

    def __init__(self, docker: Any, url: str, ctx: ProbeContext, pool: ThreadPoolExecutor,
                 wall: Callable[[], float]) -> None:
        self.docker, self.url, self.ctx, self.pool, self.wall = docker, url, ctx, pool, wall
        self.client: Any = None
        self.one_shot = True  # API >= 1.41: stats answer at once instead of waiting ~1 s for precpu
        self.notes: list[str] = []

    async def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float = CALL_TIMEOUT_S, **kw: Any) -> Any:
        """Run one blocking SDK call in the pool; TimeoutError after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self.pool, functools.partial(fn, *args, **kw)), timeout_s)

    async def run(self) -> Evidence:
        version = await self.connect()
        engine = version["engine"]
        selected, selection = await self.select()
        start_wall, window_s = self.wall(), self.ctx.window_s
        events = asyncio.create_task(self.fetch_events(int(start_wall - RESTART_LOOKBACK_S), start_wall + window_s))
        df = asyncio.create_task(self.call(self.client.df, timeout_s=window_s + 1.0))
        details = asyncio.create_task(self.fetch_details(selected, PS_ARGS[engine]))
        samples = await self.sample([cid for cid, state in selected if state == "running"])
        inspected, tops = await details
        die_events = await self.settle(events, "die events", [])
        inspected.update(await self.inspect_extra(die_events, set(inspected), bool(self.ctx.config.containers.names)))
        disk_raw = await self.settle(df, "engine df", None)
        now = self.wall()
        containers = [build_container(attrs, samples.get(cid, []), tops.get(cid), die_events, now, start_wall,
                                      log_bytes=log_size_bytes(attrs.get("LogPath")))
                      for cid, attrs in inspected.items()]
        data = ContainersEvidence(
            engine_url=redact_url(self.url), engine=engine, engine_version=version["version"],
            api_version=version["api"], window_s=window_s, restart_lookback_s=RESTART_LOOKBACK_S,
            selection=selection, containers=sorted(containers, key=lambda c: c.name),
            disk=EngineDisk(**parse.disk_usage(disk_raw)) if disk_raw is not None else None,
            notes=self.notes)
        partial = bool(self.notes) or any(c.notes for c in containers)
        return Evidence("containers", "partial" if partial else "ok", 0.0, data=data)

    async def connect(self) -> dict[str, str | None]:
        """Open the client and ping the engine; ProbeUnavailable when nothing answers.

        ``/_ping`` answers in milliseconds with the API version and the server in its headers,
        where ``/version`` takes ~0.6 s on Podman (it asks conmon and the runtime for theirs).
        """
        where = redact_url(self.url)
        try:
            self.client = await self.call(self.docker.DockerClient, base_url=self.url, version=API_VERSION,
                                          timeout=self.ctx.window_s + 3.0, timeout_s=CONNECT_TIMEOUT_S)
            resp = await self.call(self.client.api.get, self.client.api.base_url + "/_ping", timeout_s=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise ProbeUnavailable(f"no container engine at {where}: no answer within {CONNECT_TIMEOUT_S:.0f} s") from None
        except Exception as err:  # the SDK wraps socket errors in DockerException / requests errors
            raise ProbeUnavailable(f"no container engine at {where}: {_why(err)}") from None
        if resp.status_code != 200:
            raise ProbeUnavailable(f"no container engine at {where}: /_ping answered HTTP {resp.status_code}")
        api = resp.headers.get("Api-Version")
        if api and _version_tuple(api) < _version_tuple(API_VERSION):  # an old engine: speak its version
            self.client = self.docker.DockerClient(base_url=self.url, version=api, timeout=self.ctx.window_s + 3.0)
            self.one_shot = False
        podman = resp.headers.get("Libpod-Api-Version")
        server = resp.headers.get("Server", "")  # "Docker/24.0.7 (linux)", "Libpod/4.3.1 (linux)"
        return {"engine": "podman" if podman else "docker", "api": api,
                "version": podman or (server.split("/", 1)[1].split()[0] if "/" in server else None)}

    async def select(self) -> tuple[list[tuple[str, str]], str]:
        """(id, state) of the containers that matter, and how they were chosen."""
        cc = self.ctx.config.containers
        filters = {"label": list(cc.labels)} if cc.labels else None
        listed = await self.call(self.client.api.containers, all=True, filters=filters)
        rows = [(c["Id"], str(c.get("State", "")).lower(), [n.lstrip("/") for n in c.get("Names") or []])
                for c in listed]
        if cc.names:
            wanted = set(cc.names)
            chosen = [(cid, st) for cid, st, names in rows
                      if wanted & set(names) or any(cid.startswith(w) for w in wanted)]
            seen = {n for _, _, names in rows for n in names} | {cid[:12] for cid, _, _ in rows}
            self.notes += [f"no container named {n}" for n in cc.names
                           if n not in seen and not any(cid.startswith(n) for cid, _, _ in rows)]
            how = "names: " + ", ".join(cc.names)
        else:
            chosen = [(cid, st) for cid, st, _ in rows if st in ACTIVE_STATES]
            how = "all running"
        if cc.labels:
            how += " with labels " + ", ".join(cc.labels)
        if len(chosen) > MAX_CONTAINERS:
            self.notes.append(f"{len(chosen)} containers match; only the first {MAX_CONTAINERS} were sampled")
            chosen = chosen[:MAX_CONTAINERS]
        return chosen, how

    async def sample(self, ids: list[str]) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """One-shot stats of every running container at each sample time: id -> [(clock, stats)]."""
        ctx = self.ctx
        offsets = ctx.sample_times() if len(ids) <= 10 else [0.0, ctx.window_s]  # bounded API calls
        out: dict[str, list[tuple[float, dict[str, Any]]]] = {cid: [] for cid in ids}
        failed: dict[str, str] = {}
        t0 = ctx.clock()
        for offset in offsets:
            delay = t0 + offset - ctx.clock()
            if delay > 0:
                await ctx.sleep(delay)
            results = await asyncio.gather(*(self.one_stats(cid) for cid in ids), return_exceptions=True)
            for cid, res in zip(ids, results, strict=True):
                if isinstance(res, BaseException):
                    failed[cid] = _why(res)
                else:
                    out[cid].append(res)
        for cid, why in failed.items():
            if len(out[cid]) < 2:
                self.notes.append(f"stats of {cid[:12]} failed: {why}")
        return out

    async def one_stats(self, cid: str) -> tuple[float, dict[str, Any]]:
        """One stats answer stamped with the clock at the middle of the call."""
        before = self.ctx.clock()
        extra = {"one_shot": True} if self.one_shot else {}
        stats = await self.call(self.client.api.stats, cid, stream=False, timeout_s=CALL_TIMEOUT_S + 1.5, **extra)
        return (before + self.ctx.clock()) / 2, stats

    async def fetch_details(self, selected: list[tuple[str, str]], ps_args: str) -> tuple[dict, dict]:
        """Inspect every selected container, and ``top`` the running ones (concurrently)."""
        ids = [cid for cid, _ in selected]
        running = [cid for cid, state in selected if state == "running"]
        inspected = await asyncio.gather(*(self.call(self.client.api.inspect_container, c) for c in ids),
                                         return_exceptions=True)
        tops = await asyncio.gather(*(self.top(c, ps_args) for c in running), return_exceptions=True)
        attrs = {cid: res for cid, res in zip(ids, inspected, strict=True) if not isinstance(res, BaseException)}
        for cid, res in zip(ids, inspected, strict=True):
            if isinstance(res, BaseException):
                self.notes.append(f"{cid[:12]} disappeared during the window ({_why(res)})")
        return attrs, {cid: res for cid, res in zip(running, tops, strict=True) if not isinstance(res, BaseException)}

    async def top(self, cid: str, ps_args: str) -> list[dict[str, Any]]:
        """The processes inside, with the engine's own ps arguments, else its default columns."""
        try:
            answer = await self.call(self.client.api.top, cid, ps_args=ps_args)
        except Exception:
            answer = await self.call(self.client.api.top, cid)
        return process_rows(parse.top_rows(answer or {}))

    async def fetch_events(self, since: int, until: float) -> list[dict[str, Any]]:
        """Die / oom events from ``since`` to the end of the window (the call returns at ``until``).

        Podman answers an ``until`` already past with nothing, so the call is made up front and
        runs alongside the sampling. Podman files the action as ``died``; the filter names both.
        """
        def read() -> list[dict[str, Any]]:
            found = []
            filters = {"type": ["container"], "event": ["die", "died", "oom"]}
            for ev in self.client.api.events(since=since, until=until, decode=True, filters=filters):
                found.append(ev)
                if len(found) >= MAX_EVENTS:
                    break
            return found
        return await self.call(read, timeout_s=self.ctx.window_s + CALL_TIMEOUT_S)

    async def inspect_extra(self, events: list[dict[str, Any]], known: set[str], named: bool) -> dict[str, Any]:
        """Containers that died in the lookback but were not running when listed (a loop between runs)."""
        if named:
            return {}
        ids = list(dict.fromkeys(_actor_id(e) for e in events if _actor_id(e) not in known))[:5]
        found = await asyncio.gather(*(self.call(self.client.api.inspect_container, c) for c in ids),
                                     return_exceptions=True)
        labels = self.ctx.config.containers.labels
        return {c: a for c, a in zip(ids, found, strict=True)
                if isinstance(a, dict) and _labels_match((a.get("Config") or {}).get("Labels") or {}, labels)}

    async def settle(self, task: asyncio.Task, what: str, default: Any) -> Any:
        """The task's result within the time left, else ``default`` and a note saying why."""
        try:
            return await asyncio.wait_for(task, max(0.1, self.ctx.time_left() - 0.3))
        except Exception as err:
            self.notes.append(f"{what} unavailable: {_why(err)}")
            return default


def _labels_match(labels: dict[str, str], selectors: list[str]) -> bool:
    """Docker's label filter: every ``key`` is present and every ``key=value`` matches."""
    for sel in selectors:
        key, eq, value = sel.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def _actor_id(event: dict[str, Any]) -> str:
    return str((event.get("Actor") or {}).get("ID") or event.get("id") or "")


def _why(err: BaseException) -> str:
    """The root reason of an SDK error in a few words ("Connection refused"), not its whole chain."""
    if isinstance(err, TimeoutError):
        return "no answer in time"
    stack, seen = [err], set()
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.strerror:
            return cur.strerror
        stack += [e for e in (cur.__cause__, cur.__context__) if e is not None]
        stack += [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
    explanation = getattr(err, "explanation", None)
    text = str(explanation or err).splitlines()[0] if str(explanation or err) else type(err).__name__
    return text[:200]


def log_size_bytes(path: str | None) -> int | None:
    """Size of a container's log file where the engine exposes its path and we can read it."""
    try:
        return os.path.getsize(path) if path else None
    except OSError:
        return None
