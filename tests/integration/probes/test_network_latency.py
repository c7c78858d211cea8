"""TCP connect time to each configured dependency, measured for real across the window: a private
PostgreSQL and Redis, a backend that accepts, and a frontend whose accept queue is full (its SYNs
are dropped, as a saturated backend's are)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

from perfbook.config import Config
from perfbook.probes.network import NetworkProbe
from perfbook.rules import network as network_rules

from .probe_children import run


@contextlib.contextmanager
def full_accept_queue() -> Iterator[int]:
    """A listener that never accepts, its queue already full: new connects get no SYN-ACK."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    try:
        yield port
    finally:
        for c in fillers:
            c.close()
        server.close()


async def test_connect_percentiles_per_dependency_and_a_saturated_one_found(pg_dsn, redis_url):
    backend = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    backend_port = backend.sockets[0].getsockname()[1]
    with full_accept_queue() as frontend_port:
        await asyncio.sleep(0.2)
        cfg = Config.model_validate(
            {
                "http": {"base_url": f"http://127.0.0.1:{backend_port}"},
                "postgres": {"dsn": pg_dsn},
                "redis": {"url": redis_url},
                "frontend": {"url": f"http://127.0.0.1:{frontend_port}"},
            }
        )
        ev, wall_s = await run(NetworkProbe(), cfg, 2.0)
    backend.close()
    assert ev.status == "ok", ev.reason
    assert wall_s < 3.5  # the connects are bounded by the window
    by_target = {d.target: d for d in ev.data.latency}
    assert list(by_target) == ["http", "postgres", "redis", "frontend"]
    for name in ("http", "postgres", "redis"):
        d = by_target[name]
        assert d.samples == 5 and d.failures == 0, d
        assert 0 < d.p50_ms <= d.p95_ms <= d.max_ms < 1000, d  # loopback: generous bound on a loaded machine
    front = by_target["frontend"]
    assert front.timeouts >= 1 and front.address == f"127.0.0.1:{frontend_port}"
    # the loopback connects are fast; on this loaded 2-core machine "fast" is judged with a wide margin
    lenient = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"connect_ms": 900.0})})
    found = {
        f.subject: f
        for f in network_rules.evaluate({"network": ev}, lenient)
        if f.code == "net.dependency_latency"
    }
    assert set(found) == {"frontend"}, [(f.subject, f.title) for f in found.values()]
    assert "connects failed (timed out)" in found["frontend"].title
