"""The saturation readers (host probe) and the network probe on this real machine: properties of
live figures, and a healthy machine raising none of the saturation or network codes."""

from __future__ import annotations

import asyncio

from perfbook.config import Config
from perfbook.probes.host import HostProbe
from perfbook.probes.host_proc import is_whole_device
from perfbook.probes.network import NetworkProbe
from perfbook.rules import host as host_rules
from perfbook.rules import network as network_rules

from .probe_children import run

NETWORK_CODES = {
    "net.tcp_retransmits",
    "net.listen_overflows",
    "net.interface_errors",
    "net.bandwidth_saturated",
    "net.close_wait_buildup",
    "net.ephemeral_ports",
    "net.conntrack_full",
    "net.dependency_latency",
}


def quiet_config() -> Config:
    # no dependency configured: nothing listens on the defaults here, and that is not this test's subject
    return Config.model_validate(
        {"http": {"base_url": ""}, "frontend": {"url": ""}, "postgres": {"dsn": ""}, "redis": {"url": ""}}
    )


async def test_a_healthy_machine_raises_none_of_the_saturation_or_network_codes():
    cfg = quiet_config()
    (host, _), (net, wall_s) = await asyncio.gather(run(HostProbe(), cfg, 2.0), run(NetworkProbe(), cfg, 2.0))
    assert host.status == "ok" and net.status == "ok", (host.reason, net.reason)
    assert wall_s < 3.5
    sat = host.data.saturation
    assert 1.8 <= sat.window_s <= 2.6 and sat.cpu.samples >= 10 and sat.cpu.cores >= 1
    for psi in (sat.cpu.psi, sat.memory.psi, sat.io_psi):
        assert psi is None or 0 <= psi.some_pct <= 100
    assert all(is_whole_device(d.device) and 0 <= d.util_pct <= 100 for d in sat.disks)
    assert sat.memory.oom_kills == 0
    codes = {
        f.code
        for f in host_rules.evaluate({"host": host}, cfg) + network_rules.evaluate({"network": net}, cfg)
    }
    assert not codes & (NETWORK_CODES | {"host.oom_kill", "host.memory_pressure", "host.cpu_steal"})
    # six other people share this machine's two cores: CPU / I/O saturation is only ever raised
    # when the window's own stall shares say so
    if "host.cpu_saturated" in codes:
        assert sat.cpu.psi.some_pct >= cfg.thresholds.cpu_psi_pct and sat.cpu.runnable_mean > sat.cpu.cores
    if "host.disk_io_saturated" in codes:
        assert sat.io_psi.some_pct >= cfg.thresholds.io_psi_pct or any(d.util_pct >= 90 for d in sat.disks)
    n = net.data
    assert n.tcp.out_segs >= 0 and n.sockets is not None and n.ephemeral.low < n.ephemeral.high
    assert any(i.name == "lo" for i in n.interfaces) and n.latency == []


def test_sock_diag_and_proc_net_tcp_see_the_same_listeners():
    import socket
    from pathlib import Path

    from perfbook.probes.host_proc import read_sockets, read_sockets_netlink

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))  # one connection waiting in its accept queue
    try:
        fast, files = read_sockets_netlink(), read_sockets(Path("/proc"), netlink=False)
    finally:
        client.close()
        server.close()
    assert fast.listeners[port] == files.listeners[port] == 1
    assert fast.by_state["established"] >= 2 and files.by_state["established"] >= 2
