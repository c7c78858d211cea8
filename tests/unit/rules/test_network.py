"""Network rules on recorded /proc trees (tests/fixtures/proc/<scenario>/{before,after}, with
sys/class/net/*/speed): bandwidth at link speed, a full conntrack table, listen overflows,
retransmits, CLOSE_WAIT — and a quiet machine with none of them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perfbook.config import Config, Thresholds
from perfbook.evidence.network import Listener, NetworkEvidence
from perfbook.model import Evidence, IssueType, Level
from perfbook.probes import host_proc, network_build
from perfbook.rules import network as rules

TREES = Path(__file__).parents[2] / "fixtures" / "proc"


def network_from_tree(name: str, window_s: float = 2.0) -> NetworkEvidence:
    """What the network probe builds from the tree's two readings."""
    before, after = (TREES / name / "before", TREES / name / "after")
    c0, c1 = host_proc.read_counters(before), host_proc.read_counters(after)
    speeds = host_proc.read_link_speeds(TREES / name / "sys", list(c1.interfaces or {}))
    return network_build.evidence(
        c0,
        c1,
        window_s,
        host_proc.read_sockets(before),
        host_proc.read_sockets(after),
        speeds,
        host_proc.read_port_range(after),
        host_proc.read_conntrack(after),
    )


def findings(net: NetworkEvidence, cfg: Config = Config()) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in rules.evaluate({"network": Evidence("network", "ok", 2.0, data=net)}, cfg):
        out.setdefault(f.code, []).append(f)
    return out


def test_a_quiet_machine_raises_no_network_code():
    net = network_from_tree("healthy")
    assert net.tcp.out_segs == 400 and net.tcp.retrans_segs == 1 and net.tcp.listen_overflows == 0
    eth0 = next(i for i in net.interfaces if i.name == "eth0")
    assert (eth0.speed_mbps, eth0.rx_util_pct) == (1000, 1.2)  # 1.5 MB/s of 125 MB/s
    assert net.sockets.established == 5 and net.ephemeral.in_use == 5
    assert findings(net) == {}


def test_bandwidth_at_link_speed():
    net = network_from_tree("bandwidth")
    eth0 = net.interfaces[0]
    assert (eth0.name, eth0.rx_bytes_per_s, eth0.rx_util_pct, eth0.tx_util_pct) == ("eth0", 120e6, 96.0, 0.8)
    (f,) = findings(net)["net.bandwidth_saturated"]
    assert (f.subject, f.value, f.level, f.issue_type) == ("eth0", 96.0, Level.WARNING, IssueType.NETWORK)
    assert "receive 960 Mbit/s" in f.title
    assert "net.bandwidth_saturated" not in findings(net, Config(thresholds=Thresholds(link_pct=97)))


def test_a_nearly_full_conntrack_table_is_critical():
    net = network_from_tree("conntrack_full")
    assert (net.conntrack.count, net.conntrack.max) == (64200, 65536)
    (f,) = findings(net)["net.conntrack_full"]
    assert (f.level, f.value) == (Level.CRITICAL, 98.0)
    lower = replace(net, conntrack=replace(net.conntrack, count=55000, used_pct=83.9))
    assert findings(lower)["net.conntrack_full"][0].level == Level.WARNING


def test_listen_overflows_name_the_port_whose_accept_queue_is_full():
    got = findings(network_from_tree("overloaded"))
    (f,) = got["net.listen_overflows"]
    assert (f.level, f.subject, f.value) == (Level.CRITICAL, "port 8001", 37.0)
    assert f.evidence["listeners"] == [{"port": 8001, "queued": 129, "backlog": None}]  # /proc lacks it
    (r,) = got["net.tcp_retransmits"]
    assert (r.value, r.evidence["retrans_segs"], r.evidence["out_segs"]) == (0.05, 100, 2000)
    (cw,) = got["net.close_wait_buildup"]
    assert (cw.subject, cw.value) == ("port 8001", 150.0)
    assert got["net.interface_errors"][0].subject == "eth0"
    assert all(f.issue_type == IssueType.NETWORK for fs in got.values() for f in fs)


def test_listen_overflows_say_the_backlog_when_sock_diag_gave_it():
    net = network_from_tree("overloaded")
    dumped = replace(net, sockets=replace(net.sockets, listeners=[Listener(8001, 129, 128)]))
    (f,) = findings(dumped)["net.listen_overflows"]
    assert "the accept queue of port 8001 holds 129 of its backlog 128" in f.title
    assert f.evidence["listeners"] == [{"port": 8001, "queued": 129, "backlog": 128}]


def test_retransmits_of_a_few_segments_are_noise():
    net = network_from_tree("overloaded")
    few = replace(net, tcp=replace(net.tcp, out_segs=100, retrans_segs=10, retrans_share=0.1))
    assert "net.tcp_retransmits" not in findings(few)


def test_ephemeral_ports_near_exhaustion():
    net = network_from_tree("healthy")
    tight = network_build.ephemeral_ports(
        host_proc.Sockets(local_ports=list(range(45000, 45009))), (45000, 45009)
    )
    (f,) = findings(replace(net, ephemeral=tight))["net.ephemeral_ports"]
    assert (f.subject, f.value) == ("45000-45009", 90.0)


def test_dependency_connect_latency_by_target_with_percentiles():
    slow = network_build.dependency_latency("postgres", "db:5432", [2.0, 3.0, 250.0, 4.0, 300.0], None)
    fine = network_build.dependency_latency("redis", "127.0.0.1:6379", [0.2, 0.3, 0.2, 0.4, 0.3], None)
    down = network_build.dependency_latency("http", "127.0.0.1:8001", [None] * 5, "connection refused")
    flaky = network_build.dependency_latency(
        "frontend", "127.0.0.1:3000", [1.0, None, 1.0, 1.0, 1.0], "timed out", 1
    )
    dropped = network_build.dependency_latency("cache", "10.0.0.9:6379", [None] * 5, "timed out", 5)
    assert (slow.p50_ms, slow.p95_ms, slow.max_ms, slow.failures) == (4.0, 300.0, 300.0, 0)
    net = replace(network_from_tree("healthy"), latency=[slow, fine, down, flaky, dropped])
    got = findings(net)["net.dependency_latency"]
    # down (refused): its own layer reports it unreachable; flaky: 1 of 5 connects failed; dropped: unanswered
    assert [(f.subject, f.value) for f in got] == [("postgres", 300.0), ("frontend", 1.0), ("cache", None)]
    assert "1 of 5 connects failed (timed out)" in got[1].title and "none answered" in got[2].title


def test_no_network_evidence_no_findings():
    assert rules.evaluate({}, Config()) == []
    assert rules.evaluate({"network": Evidence("network", "unavailable", 0.1, reason="x")}, Config()) == []


def test_a_socket_table_without_listeners_or_ipv6(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text("  sl  local_address ...\n")
    s = host_proc.read_sockets(tmp_path)
    assert s is not None and s.by_state == {} and host_proc.read_sockets(tmp_path / "absent") is None
