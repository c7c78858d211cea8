"""Containers probe: the runbook's ``docker stats``, ``docker top`` and ``docker system df``, over the API.

Talks to the Docker Engine API (Docker, or Podman's ``system service``) through the ``docker`` SDK.
The SDK is synchronous, so every call runs in this probe's own small thread pool under a timeout,
never on the event loop. Across the window it samples each container's stats (CPU from
``total_usage`` deltas over wall time, which also works where ``precpu`` is empty, as on Podman),
reads the die / oom events of the last ``RESTART_LOOKBACK_S`` plus the window (a loop in back-off
rarely restarts inside a 2 s window), ``top`` once and the engine's ``df``.

Evidence: :mod:`perfbook.evidence.containers` (read by ``rules/containers.py`` and ``report/containers.py``),
built from the raw answers by :mod:`perfbook.probes.containers_build`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from perfbook.config import Config
from perfbook.evidence.containers import ContainerProcess, ContainersEvidence, EngineDisk
from perfbook.model import Evidence
from perfbook.probes import containers_parse as parse
from perfbook.probes.base import BaseProbe, ProbeContext, ProbeSkipped, ProbeUnavailable
from perfbook.probes.containers_build import build_container, process_rows
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


class ContainersProbe(BaseProbe):
    """Sample the selected containers across the window and read the engine's disk use.

    ev = await run_probe(ContainersProbe(), ctx, budget_s=4.0)
    ev.data.containers[0].cpu_pct   # of its CPU limit, or of one core × cores
    """

    name = "containers"
    codes = "container"  # container.* findings are judged on its evidence
    requires = ("docker", "requests")  # imported by triage before the window (see probes/base.py)
    evidence = ContainersEvidence
    rules = "perfbook.rules.containers"
    local = True
    target_key = "containers.engine"

    @classmethod
    def target(cls, cfg: Config) -> str:
        return cfg.containers.engine_url()  # [containers] engine, else DOCKER_HOST, else the local socket

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall = wall_clock

    async def collect(self, ctx: ProbeContext) -> Evidence:
        """Gather the evidence; ProbeUnavailable when no engine answers at the configured address."""
        cfg = ctx.config
        if not ctx.local and cfg.host.remote != "force":
            raise ProbeSkipped(
                'remote target: containers describe this machine (set [host] remote = "force")'
            )
        try:
            import docker
        except ImportError:
            raise ProbeSkipped("the docker SDK is not installed: pip install 'perfbook[docker]'") from None
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="perfbook-containers")
        session = _Session(docker, cfg.containers.engine_url(), ctx, pool, self._wall)
        try:
            return await session.run()
        finally:
            session.close()
            pool.shutdown(wait=False, cancel_futures=True)


class _Session:
    """One probe run: the client, the thread pool and the calls made through them."""

    def __init__(
        self, docker: Any, url: str, ctx: ProbeContext, pool: ThreadPoolExecutor, wall: Callable[[], float]
    ) -> None:
        self.docker, self.url, self.ctx, self.pool, self.wall = docker, url, ctx, pool, wall
        self.client: Any = None
        self.one_shot = True  # API >= 1.41: stats answer at once instead of waiting ~1 s for precpu
        self.notes: list[str] = []
        self.window_end = 0.0  # clock() at the end of the sampling window

    async def call(
        self, fn: Callable[..., Any], *args: Any, timeout_s: float = CALL_TIMEOUT_S, **kw: Any
    ) -> Any:
        """Run one blocking SDK call in the pool; TimeoutError after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self.pool, functools.partial(fn, *args, **kw)), timeout_s
        )

    def unreachable_errors(self) -> tuple[type[BaseException], ...]:
        """What the SDK raises when the engine cannot be reached or refuses (socket errors wrapped)."""
        import requests  # a dependency of the docker SDK

        return self.docker.errors.DockerException, requests.RequestException, OSError

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    async def run(self) -> Evidence:
        version = await self.connect()
        engine = version["engine"] or "docker"  # connect() always names one
        try:
            selected, selection = await self.select()
        except (TimeoutError, *self.unreachable_errors()) as err:  # type: ignore[misc]
            raise ProbeUnavailable(
                f"container engine at {redact_url(self.url)} did not list its containers: {_why(err)}"
            ) from None
        start_wall, window_s = self.wall(), self.ctx.window_s
        self.window_end = self.ctx.clock() + window_s
        events = asyncio.create_task(
            self.fetch_events(int(start_wall - RESTART_LOOKBACK_S), start_wall + window_s)
        )
        df = asyncio.create_task(self.call(self.client.df, timeout_s=window_s + 1.0))
        details = asyncio.create_task(self.fetch_details(selected, PS_ARGS[engine]))
        samples = await self.sample([cid for cid, state in selected if state == "running"])
        inspected, tops = await details
        die_events = await self.settle(events, "die events", [])
        inspected.update(await self.inspect_late([cid for cid, _ in selected], inspected, die_events))
        disk_raw = await self.settle(df, "engine df", None)
        now = self.wall()
        containers = [
            build_container(
                attrs,
                samples.get(cid, []),
                tops.get(cid),
                die_events,
                now,
                start_wall,
                log_bytes=log_size_bytes(attrs.get("LogPath")),
            )
            for cid, attrs in inspected.items()
        ]
        data = ContainersEvidence(
            engine_url=redact_url(self.url),
            engine=engine,
            engine_version=version["version"],
            api_version=version["api"],
            window_s=window_s,
            restart_lookback_s=RESTART_LOOKBACK_S,
            selection=selection,
            containers=sorted(containers, key=lambda c: c.name),
            disk=EngineDisk(**parse.disk_usage(disk_raw)) if disk_raw is not None else None,
            notes=self.notes,
        )
        # partial: a figure is missing (df, events, a container's stats) or a counter reset mid-window
        partial = bool(self.notes) or any(c.notes for c in containers)
        return Evidence("containers", "partial" if partial else "ok", 0.0, data=data)

    async def connect(self) -> dict[str, str | None]:
        """Open the client and ping the engine; ProbeUnavailable when nothing answers.

        ``/_ping`` answers in milliseconds with the API version and the server in its headers,
        where ``/version`` takes ~0.6 s on Podman (it asks conmon and the runtime for theirs).
        """
        where = redact_url(self.url)
        # Leave the window its time: a ping that takes longer than what is left of the budget
        # after the window is reported here, with the address, rather than as a bare budget overrun.
        timeout_s = max(0.3, min(CONNECT_TIMEOUT_S, self.ctx.time_left() - self.ctx.window_s - 0.2))
        try:
            self.client = await self.call(
                self.docker.DockerClient,
                base_url=self.url,
                version=API_VERSION,
                timeout=self.ctx.window_s + 3.0,
                timeout_s=timeout_s,
            )
            resp = await self.call(
                self.client.api.get, self.client.api.base_url + "/_ping", timeout_s=timeout_s
            )
        except TimeoutError:
            raise ProbeUnavailable(
                f"no container engine at {where}: no answer within {timeout_s:.1f} s"
            ) from None
        except self.unreachable_errors() as err:
            raise ProbeUnavailable(f"no container engine at {where}: {_why(err)}") from None
        if resp.status_code != 200:
            raise ProbeUnavailable(f"no container engine at {where}: /_ping answered HTTP {resp.status_code}")
        api = resp.headers.get("Api-Version")
        if api and _version_tuple(api) < _version_tuple(API_VERSION):  # an old engine: speak its version
            self.client = self.docker.DockerClient(
                base_url=self.url, version=api, timeout=self.ctx.window_s + 3.0
            )
            self.one_shot = False
        podman = resp.headers.get("Libpod-Api-Version")
        server = resp.headers.get("Server", "")  # "Docker/24.0.7 (linux)", "Libpod/4.3.1 (linux)"
        return {
            "engine": "podman" if podman else "docker",
            "api": api,
            "version": podman or (server.split("/", 1)[1].split()[0] if "/" in server else None),
        }

    async def select(self) -> tuple[list[tuple[str, str]], str]:
        """(id, state) of the containers that matter, and how they were chosen."""
        cc = self.ctx.config.containers
        filters = {"label": list(cc.labels)} if cc.labels else None
        listed = await self.call(self.client.api.containers, all=True, filters=filters)
        rows = [
            (c["Id"], str(c.get("State", "")).lower(), [n.lstrip("/") for n in c.get("Names") or []])
            for c in listed
        ]
        if cc.names:
            wanted = set(cc.names)
            chosen = [
                (cid, st)
                for cid, st, names in rows
                if wanted & set(names) or any(cid.startswith(w) for w in wanted)
            ]
            seen = {n for _, _, names in rows for n in names} | {cid[:12] for cid, _, _ in rows}
            self.notes += [
                f"no container named {n}"
                for n in cc.names
                if n not in seen and not any(cid.startswith(n) for cid, _, _ in rows)
            ]
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

    def left(self, slack_s: float) -> float:
        """Seconds until the window's end plus ``slack_s`` (at least 0.2): a call's timeout."""
        return max(0.2, self.window_end + slack_s - self.ctx.clock())

    async def sample(self, ids: list[str]) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """One-shot stats of every running container at each sample time: id -> [(clock, stats)].

        Each container keeps its own schedule, so one that blocks (Podman holds a container's
        lock while restarting it) delays neither the others nor the end of the window.
        """
        offsets = self.ctx.sample_times() if len(ids) <= 10 else [0.0, self.ctx.window_s]  # bounded calls
        t0 = self.ctx.clock()
        results = await asyncio.gather(*(self.sample_one(cid, t0, offsets) for cid in ids))
        out = {}
        for cid, (samples, error) in zip(ids, results, strict=True):
            out[cid] = samples
            if error is not None and len(samples) < 2:
                self.notes.append(f"stats of {cid[:12]} failed: {error}")
        return out

    async def sample_one(self, cid: str, t0: float, offsets: list[float]) -> tuple[list, str | None]:
        samples, error = [], None
        for i, offset in enumerate(offsets):
            now = self.ctx.clock()
            if i + 1 < len(offsets) and now > t0 + offsets[i + 1]:
                continue  # fell behind (a slow answer): skip to the next sample time
            if t0 + offset > now:
                await self.ctx.sleep(t0 + offset - now)
            try:
                samples.append(await self.one_stats(cid, min(CALL_TIMEOUT_S, self.left(0.3))))
            except (TimeoutError, *self.unreachable_errors()) as err:  # type: ignore[misc]
                error = _why(err)
        return samples, error

    async def one_stats(self, cid: str, timeout_s: float) -> tuple[float, dict[str, Any]]:
        """One stats answer stamped with the clock at the middle of the call."""
        before = self.ctx.clock()
        extra = {"one_shot": True} if self.one_shot else {}
        stats = await self.call(self.client.api.stats, cid, stream=False, timeout_s=timeout_s, **extra)
        if not (parse.throttling(stats) or (0,))[0]:  # Podman on cgroup v1 reports zeros: read the cgroup
            cgroup = read_cgroup_throttling(cid)
            if cgroup is not None:
                periods, throttled, ns = cgroup
                stats.setdefault("cpu_stats", {})["throttling_data"] = {
                    "periods": periods,
                    "throttled_periods": throttled,
                    "throttled_time": ns,
                    "source": "cgroup",
                }
        return (before + self.ctx.clock()) / 2, stats

    async def fetch_details(self, selected: list[tuple[str, str]], ps_args: str) -> tuple[dict, dict]:
        """Inspect every selected container, and ``top`` the running ones, all at once."""
        ids = [cid for cid, _ in selected]
        running = [cid for cid, state in selected if state == "running"]
        timeout_s = min(CALL_TIMEOUT_S, self.left(0.3))
        answers = await asyncio.gather(
            *(self.call(self.client.api.inspect_container, c, timeout_s=timeout_s) for c in ids),
            *(self.top(c, ps_args, timeout_s) for c in running),
            return_exceptions=True,
        )
        inspected, tops = answers[: len(ids)], answers[len(ids) :]
        attrs = {cid: res for cid, res in zip(ids, inspected, strict=True) if isinstance(res, dict)}
        return attrs, {cid: res for cid, res in zip(running, tops, strict=True) if isinstance(res, list)}

    async def top(self, cid: str, ps_args: str, timeout_s: float) -> list[ContainerProcess]:
        """The processes inside, with the engine's own ps arguments, else its default columns."""
        try:
            answer = await self.call(self.client.api.top, cid, ps_args=ps_args, timeout_s=timeout_s)
        except (ValueError, self.docker.errors.APIError):  # ps arguments the engine would not take
            answer = await self.call(self.client.api.top, cid, timeout_s=timeout_s)
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

    async def inspect_late(
        self, selected: list[str], inspected: dict[str, Any], events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Inspect what is still missing: selected containers whose first inspect did not answer,
        and (with no names configured) containers that died in the lookback but were not running
        when listed (a loop between two runs, or one that gave up restarting)."""
        missing = [cid for cid in selected if cid not in inspected]
        if not self.ctx.config.containers.names:
            missing += [
                cid
                for cid in dict.fromkeys(map(_actor_id, events))
                if cid and cid not in inspected and cid not in missing
            ][:5]
        timeout_s = min(CALL_TIMEOUT_S, max(0.2, self.ctx.time_left() - 0.4))
        found = await asyncio.gather(
            *(self.call(self.client.api.inspect_container, c, timeout_s=timeout_s) for c in missing),
            return_exceptions=True,
        )
        labels = self.ctx.config.containers.labels
        late = {
            c: a
            for c, a in zip(missing, found, strict=True)
            if isinstance(a, dict) and _labels_match((a.get("Config") or {}).get("Labels") or {}, labels)
        }
        self.notes += [
            f"{cid[:12]} did not answer inspect ({_why(a)})"
            for cid, a in zip(missing, found, strict=True)
            if cid in selected and isinstance(a, BaseException)
        ]
        return late

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


# Where engines put a container's CPU cgroup (v1 hierarchies, then the unified v2 one).
_CGROUP_CANDIDATES = (
    "cpu/libpod_parent/libpod-{id}",
    "cpu/docker/{id}",
    "cpu/system.slice/docker-{id}.scope",
    "cpu,cpuacct/docker/{id}",
    "cpu/machine.slice/libpod-{id}.scope",
    "system.slice/docker-{id}.scope",
    "machine.slice/libpod-{id}.scope",
    "libpod_parent/libpod-{id}",
    "docker/{id}",
)


def read_cgroup_throttling(cid: str, root: Path = Path("/sys/fs/cgroup")) -> tuple[int, int, int] | None:
    """The container's cpu.stat throttling counters, for engines whose stats leave them at zero
    (Podman on cgroup v1); None when the cgroup is not found here (a remote engine)."""
    if len(cid) != 64:
        return None
    for candidate in _CGROUP_CANDIDATES:
        try:
            text = (root / candidate.format(id=cid) / "cpu.stat").read_text()
        except OSError:
            continue
        return parse.parse_cpu_stat(text)
    return None
