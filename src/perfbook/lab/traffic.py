"""Light, steady traffic for the lab: reads, searches, some writes, a WebSocket, the frontend page.

    stats = asyncio.run(run_traffic(TrafficPlan(base_url, frontend_url), duration_s=60))

Requests start at a fixed rate (not closed-loop), at most ``concurrency`` in flight: a slow
backend gets the same offered load, so rate-based figures have something to measure. Reads hit
a small hot set of ids and pages, as real traffic does, so a healthy lab's cache hit rate is high.
Only ever sent to the lab on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from perfbook.lab import seed

HOT_USER_IDS = range(1, 101)
HOT_AGENT_IDS = range(1, 51)
PAGE_OFFSETS = (0, 20, 40, 60, 80)
NAME_PREFIXES = ("anna s", "ben g", "carla r", "david n", "elena k", "hugo d", "maya p")


@dataclass
class TrafficPlan:
    """Where to send traffic and how much."""

    base_url: str
    frontend_url: str | None = None
    rate_rps: float = 40.0
    concurrency: int = 32
    timeout_s: float = 10.0


@dataclass
class TrafficStats:
    """What was sent: counts by status class, and requests skipped because too many were in flight."""

    sent: int = 0
    by_status: Counter = field(default_factory=Counter)
    skipped: int = 0
    failed: int = 0  # connection errors and timeouts
    ws_echoes: int = 0

    def summary(self) -> str:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        return (
            f"{self.sent} requests ({classes or 'none answered'}), {self.failed} failed, "
            f"{self.skipped} skipped (too many in flight), {self.ws_echoes} WebSocket echoes"
        )


def _request() -> tuple[str, str, dict | None]:
    """One request of the mix: (method, path, JSON body). E-mail lookups (a login's query) are
    frequent, name searches rare; writes are a few percent."""
    roll = random.random()
    if roll < 0.15:
        return "GET", f"/api/v1/users/{random.choice(HOT_USER_IDS)}", None
    if roll < 0.25:
        return "GET", f"/api/v1/users?limit=20&offset={random.choice(PAGE_OFFSETS)}", None
    if roll < 0.55:
        return "GET", f"/api/v1/users?email={seed.email_of(random.randint(1, seed.USERS_ROWS))}", None
    if roll < 0.555:
        return "GET", f"/api/v1/users?name={random.choice(NAME_PREFIXES).replace(' ', '%20')}&limit=10", None
    if roll < 0.655:
        return "GET", f"/api/v1/agents?limit=20&offset={random.choice(PAGE_OFFSETS)}", None
    if roll < 0.775:
        return "GET", f"/api/v1/agents/{random.choice(HOT_AGENT_IDS)}", None
    if roll < 0.815:
        return "GET", "/api/v1/agents?status=running&limit=20", None
    if roll < 0.835:
        tag = uuid.uuid4().hex[:12]
        return "POST", "/api/v1/users", {"name": f"Load Test {tag}", "email": f"load.{tag}@example.test"}
    if roll < 0.845:
        owner = random.choice(HOT_USER_IDS)
        return "POST", "/api/v1/agents", {"name": f"agent-load-{uuid.uuid4().hex[:8]}", "owner_id": owner}
    return "GET", "/health", None


async def _one(client: httpx.AsyncClient, plan: TrafficPlan, stats: TrafficStats) -> None:
    method, path, body = _request()
    stats.sent += 1
    try:
        response = await client.request(method, plan.base_url + path, json=body)
    except httpx.HTTPError:
        stats.failed += 1
        return
    stats.by_status[f"{response.status_code // 100}xx"] += 1


async def _frontend(client: httpx.AsyncClient, plan: TrafficPlan, stop: asyncio.Event) -> None:
    while plan.frontend_url and not stop.is_set():
        try:
            await client.get(plan.frontend_url + "/")
        except httpx.HTTPError:
            pass
        await _sleep_or_stop(stop, 2.0)


async def _websocket(plan: TrafficPlan, stats: TrafficStats, stop: asyncio.Event) -> None:
    import websockets

    url = plan.base_url.replace("http://", "ws://", 1) + "/ws"
    while not stop.is_set():
        try:
            async with websockets.connect(url, open_timeout=5) as ws:
                while not stop.is_set():
                    await ws.send(f"ping {time.time()}")
                    await asyncio.wait_for(ws.recv(), timeout=5)
                    stats.ws_echoes += 1
                    await _sleep_or_stop(stop, 1.0)
        except (TimeoutError, OSError, websockets.WebSocketException):
            await _sleep_or_stop(stop, 1.0)


async def _sleep_or_stop(stop: asyncio.Event, delay_s: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay_s)
    except TimeoutError:
        pass


def warm_paths() -> list[str]:
    """Every read of the hot set, once: what a deploy's cache warm-up requests."""
    return (
        [f"/api/v1/users/{i}" for i in HOT_USER_IDS]
        + [f"/api/v1/agents/{i}" for i in HOT_AGENT_IDS]
        + [f"/api/v1/users?limit=20&offset={o}" for o in PAGE_OFFSETS]
        + [f"/api/v1/agents?limit=20&offset={o}" for o in PAGE_OFFSETS]
        + ["/api/v1/agents?status=running&limit=20"]
    )


async def warm_cache(base_url: str, concurrency: int = 8) -> int:
    """Request the hot set once so a fresh lab starts with a warm cache; how many answered 200."""
    slots = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, path: str) -> bool:
        async with slots:
            try:
                return (await client.get(base_url + path)).status_code == 200
            except httpx.HTTPError:
                return False

    async with httpx.AsyncClient(timeout=10.0) as client:
        return sum(await asyncio.gather(*(one(client, p) for p in warm_paths())))


async def run_traffic(
    plan: TrafficPlan, duration_s: float | None = None, stop: asyncio.Event | None = None
) -> TrafficStats:
    """Send the mix at ``plan.rate_rps`` until ``duration_s`` passes or ``stop`` is set."""
    stats, stop = TrafficStats(), stop or asyncio.Event()
    limits = httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency)
    async with httpx.AsyncClient(timeout=plan.timeout_s, limits=limits) as client:
        side = [
            asyncio.create_task(_frontend(client, plan, stop)),
            asyncio.create_task(_websocket(plan, stats, stop)),
        ]
        in_flight: set[asyncio.Task] = set()
        interval_s, started = 1.0 / plan.rate_rps, time.monotonic()
        next_at = started
        while not stop.is_set() and (duration_s is None or time.monotonic() - started < duration_s):
            if len(in_flight) < plan.concurrency:
                task = asyncio.create_task(_one(client, plan, stats))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            else:
                stats.skipped += 1
            next_at += interval_s
            await _sleep_or_stop(stop, max(0.0, next_at - time.monotonic()))
        stop.set()
        await asyncio.gather(*in_flight, *side, return_exceptions=True)
    return stats


def main(argv: list[str] | None = None) -> None:
    """Background traffic (``lab up --traffic``): runs until SIGTERM, then prints its summary."""
    import argparse
    import signal

    from perfbook.lab.proctitle import set_process_name

    parser = argparse.ArgumentParser(prog="perfbook.lab.traffic")
    parser.add_argument("tag")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--frontend-url")
    parser.add_argument("--rate", type=float, default=TrafficPlan.rate_rps)
    args = parser.parse_args(argv)
    set_process_name(args.tag)

    async def run() -> TrafficStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run_traffic(TrafficPlan(args.base_url, args.frontend_url, rate_rps=args.rate), stop=stop)

    print(asyncio.run(run()).summary(), flush=True)


if __name__ == "__main__":
    main()
