"""Network rules: the runbook's "Network Performance" type — bandwidth and latency problems (pure).

Over the window: retransmitted TCP segments as a share of those sent (with at least
:data:`MIN_SEGMENTS` sent), listen-queue overflows (critical: users' connects wait 1–3 s for a SYN
retry, or fail), interface errors and drops, rates against the link speed. At the window's end:
CLOSE_WAIT build-ups, ephemeral ports and the conntrack table. And the TCP connect time to each
configured dependency (p95 over ``connect_ms``, or connects failing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfbook.codes import finding
from perfbook.config import Config, Thresholds
from perfbook.evidence import usable
from perfbook.evidence.network import NetworkEvidence
from perfbook.model import Action, Evidence, Finding, Level

MIN_SEGMENTS = 500  # a retransmit share of a handful of segments is noise
MIN_DROPS = 100  # drops judged only from this many in the window …
DROP_SHARE = 0.01  # … and from this share of the interface's packets
CONNTRACK_CRITICAL_PCT = 95.0
MIB = 1024 * 1024

TCP_STATS = Action(
    "net.tcp_stats",
    "watch TCP retransmits and listen overflows for 5 s (sar -n TCP,ETCP)",
    "nstat -az TcpRetransSegs TcpOutSegs TcpExtListenOverflows TcpExtListenDrops; sleep 5; "
    "nstat -z TcpRetransSegs TcpOutSegs TcpExtListenOverflows TcpExtListenDrops",
)
LISTEN_QUEUES = Action(
    "net.listen_queues", "see each listener's accept queue (Recv-Q) against its backlog (Send-Q)", "ss -ltn"
)
IF_STATS = Action(
    "net.interface_stats", "see each interface's errors, drops and rates", "ip -s link; sar -n DEV 1 5"
)


def evaluate(evidence: Mapping[str, Evidence[Any]], cfg: Config) -> list[Finding]:
    """Findings from the network probe's evidence (none when it did not run)."""
    net = usable(evidence.get("network"), NetworkEvidence)
    if net is None:
        return []
    th = cfg.thresholds
    return [*_tcp(net, th), *_interfaces(net, th), *_sockets(net, th), *_ports(net, th), *_latency(net, th)]


def _tcp(net: NetworkEvidence, th: Thresholds) -> list[Finding]:
    tcp, out = net.tcp, []
    if tcp is None:
        return []
    if tcp.listen_overflows > 0 or tcp.listen_drops > 0:
        full = net.sockets.listeners if net.sockets else []  # queues holding connections, fullest first
        subject = f"port {full[0].port}" if full else "listeners"
        limit = f" of its backlog {full[0].backlog}" if full and full[0].backlog is not None else ""
        where = f"; the accept queue of port {full[0].port} holds {full[0].queued}{limit}" if full else ""
        out.append(
            finding(
                "net.listen_overflows",
                subject,
                f"{tcp.listen_overflows} connection(s) turned away by a full accept queue in {net.window_s:.1f} s "
                f"({tcp.listen_drops} SYNs dropped){where}",
                value=float(max(tcp.listen_overflows, tcp.listen_drops)),
                threshold=0.0,
                unit="listen overflows / drops in the window",
                evidence={
                    "listen_overflows": tcp.listen_overflows,
                    "listen_drops": tcp.listen_drops,
                    "listeners": [
                        {"port": lst.port, "queued": lst.queued, "backlog": lst.backlog} for lst in full[:5]
                    ],
                    "ports": [lst.port for lst in full[:5]],
                },
                actions=[
                    LISTEN_QUEUES,
                    TCP_STATS,
                    Action(
                        "net.raise_backlog",
                        "accept faster (more workers), or raise the server's listen backlog "
                        "and net.core.somaxconn",
                        "sysctl net.core.somaxconn net.ipv4.tcp_max_syn_backlog",
                    ),
                ],
            )
        )
    share = tcp.retrans_share
    if share is not None and tcp.out_segs >= MIN_SEGMENTS and share >= th.tcp_retrans_share:
        out.append(
            finding(
                "net.tcp_retransmits",
                "tcp",
                f"TCP retransmitted {share * 100:.1f} % of segments ({tcp.retrans_segs} of {tcp.out_segs}) "
                f"in {net.window_s:.1f} s",
                value=share,
                threshold=th.tcp_retrans_share,
                unit="retransmitted / sent segments, window",
                evidence={
                    "out_segs": tcp.out_segs,
                    "retrans_segs": tcp.retrans_segs,
                    "in_errs": tcp.in_errs,
                    "estab_resets": tcp.estab_resets,
                    "attempt_fails": tcp.attempt_fails,
                },
                actions=[
                    TCP_STATS,
                    Action(
                        "net.retransmits_by_peer",
                        "see which connections retransmit",
                        "ss -tin state established | grep -B1 retrans | head -40",
                    ),
                ],
            )
        )
    return out


def _interfaces(net: NetworkEvidence, th: Thresholds) -> list[Finding]:
    out = []
    for i in net.interfaces:
        packets = i.rx_packets + i.tx_packets
        drops_bad = i.dropped >= MIN_DROPS and i.dropped >= DROP_SHARE * max(1, packets)
        if i.errors > 0 or drops_bad:
            out.append(
                finding(
                    "net.interface_errors",
                    i.name,
                    f"interface {i.name}: {i.errors} errors and {i.dropped} drops of {packets} packets in "
                    f"{net.window_s:.1f} s",
                    value=float(i.errors + i.dropped),
                    threshold=0.0,
                    unit="errors + drops in the window",
                    evidence={
                        "errors": i.errors,
                        "dropped": i.dropped,
                        "rx_packets": i.rx_packets,
                        "tx_packets": i.tx_packets,
                    },
                    actions=[IF_STATS],
                )
            )
        util = max(i.rx_util_pct or 0.0, i.tx_util_pct or 0.0)
        if i.speed_mbps and util >= th.link_pct:
            direction = "receive" if (i.rx_util_pct or 0.0) >= (i.tx_util_pct or 0.0) else "transmit"
            rate = i.rx_bytes_per_s if direction == "receive" else i.tx_bytes_per_s
            out.append(
                finding(
                    "net.bandwidth_saturated",
                    i.name,
                    f"interface {i.name} at {util:.0f} % of its {i.speed_mbps} Mbit/s link ({direction} "
                    f"{rate * 8 / 1e6:.0f} Mbit/s)",
                    value=util,
                    threshold=th.link_pct,
                    unit="% of link speed, window mean",
                    evidence={
                        "speed_mbps": i.speed_mbps,
                        "rx_util_pct": i.rx_util_pct,
                        "tx_util_pct": i.tx_util_pct,
                        "rx_mb_per_s": round(i.rx_bytes_per_s / MIB, 1),
                        "tx_mb_per_s": round(i.tx_bytes_per_s / MIB, 1),
                    },
                    actions=[
                        IF_STATS,
                        Action(
                            "net.top_talkers",
                            "see which connections move the bytes",
                            "ss -tin | grep -E 'bytes_(sent|acked|received)' | head -40",
                        ),
                    ],
                )
            )
    return out


def _sockets(net: NetworkEvidence, th: Thresholds) -> list[Finding]:
    s = net.sockets
    if s is None or s.close_wait < th.close_wait_count:
        return []
    top = s.close_wait_ports[0] if s.close_wait_ports else None
    return [
        finding(
            "net.close_wait_buildup",
            f"port {top.port}" if top else "tcp",
            f"{s.close_wait} sockets in CLOSE_WAIT: peers closed them, the application has not"
            + (f" ({top.count} on local port {top.port})" if top else ""),
            value=float(s.close_wait),
            threshold=float(th.close_wait_count),
            unit="sockets in CLOSE_WAIT",
            evidence={
                "close_wait": s.close_wait,
                "time_wait": s.time_wait,
                "established": s.established,
                "by_port": [{"port": p.port, "count": p.count} for p in s.close_wait_ports],
            },
            actions=[
                Action(
                    "net.close_wait",
                    "see which process holds them (it does not close its sockets)",
                    "ss -tanp state close-wait | head -20",
                )
            ],
        )
    ]


def _ports(net: NetworkEvidence, th: Thresholds) -> list[Finding]:
    out = []
    eph = net.ephemeral
    if eph is not None and eph.used_pct >= th.ephemeral_ports_pct:
        out.append(
            finding(
                "net.ephemeral_ports",
                f"{eph.low}-{eph.high}",
                f"{eph.in_use} sockets hold {eph.used_pct:.0f} % of the ephemeral ports {eph.low}-{eph.high}",
                value=eph.used_pct,
                threshold=th.ephemeral_ports_pct,
                unit="% of the ephemeral port range",
                evidence={
                    "in_use": eph.in_use,
                    "low": eph.low,
                    "high": eph.high,
                    "time_wait": net.sockets.time_wait if net.sockets else None,
                },
                actions=[
                    Action(
                        "net.ephemeral_ports",
                        "reuse connections (pooling, keep-alive); widen the range",
                        "ss -s; sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse",
                    )
                ],
            )
        )
    ct = net.conntrack
    if ct is not None and ct.used_pct >= th.conntrack_pct:
        out.append(
            finding(
                "net.conntrack_full",
                "nf_conntrack",
                f"conntrack table {ct.used_pct:.0f} % full ({ct.count} of {ct.max}): "
                "new flows are dropped when it fills",
                value=ct.used_pct,
                threshold=th.conntrack_pct,
                unit="% of nf_conntrack_max",
                level=Level.CRITICAL if ct.used_pct >= CONNTRACK_CRITICAL_PCT else None,
                evidence={"count": ct.count, "max": ct.max},
                actions=[
                    Action(
                        "net.conntrack",
                        "see the table's fill and raise its size",
                        "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max; "
                        "dmesg | grep -i 'table full' | tail",
                    )
                ],
            )
        )
    return out


def _latency(net: NetworkEvidence, th: Thresholds) -> list[Finding]:
    """A dependency whose connects are slow, fail in part, or go unanswered (SYNs dropped: a full
    accept queue, a firewall). One that refuses every connect is its own layer's finding
    (``pg.unreachable`` …), not a network one."""
    out = []
    for d in net.latency:
        if d.p95_ms is None and d.timeouts == 0:
            continue  # refused: nothing listens, which the layer's probe reports
        failing = d.failures > 0
        if d.p95_ms is not None and d.p95_ms < th.connect_ms and not failing:
            continue
        what = f"{d.failures} of {d.samples} connects failed ({d.error})" if failing else ""
        p95 = f"p95 {d.p95_ms:.0f} ms" if d.p95_ms is not None else "none answered"
        out.append(
            finding(
                "net.dependency_latency",
                d.target,
                f"TCP connect to {d.target} ({d.address}): {what}{'; ' if what else ''}{p95} over the window",
                value=d.p95_ms,
                threshold=th.connect_ms,
                unit="ms, TCP connect p95",
                evidence={
                    "address": d.address,
                    "samples": d.samples,
                    "failures": d.failures,
                    "p50_ms": d.p50_ms,
                    "p95_ms": d.p95_ms,
                    "max_ms": d.max_ms,
                    "error": d.error,
                },
                actions=[
                    TCP_STATS,
                    Action(
                        "net.ping",
                        f"measure the path to {d.address}",
                        f"ping -c 5 {d.address.rsplit(':', 1)[0].strip('[]')}",
                    ),
                ],
                low_confidence=d.samples < 5,
            )
        )
    return out
