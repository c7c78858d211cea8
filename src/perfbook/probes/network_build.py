"""Pure builders: two counter readings (and one socket table) -> :mod:`perfbook.evidence.network`.

Counters are diffed over the window (a counter that went down counts as zero, never negative);
socket states, listen queues, ephemeral ports and conntrack are read at the window's end.
"""

from __future__ import annotations

from perfbook.evidence.network import (
    Conntrack,
    DependencyLatency,
    EphemeralPorts,
    InterfaceRates,
    Listener,
    NetworkEvidence,
    PortCount,
    SocketStates,
    TcpCounters,
)
from perfbook.probes.host_proc import Counters, Sockets

TOP_PORTS = 5
# /proc/net/dev columns
RX_BYTES, RX_PACKETS, RX_ERRS, RX_DROP = 0, 1, 2, 3
TX_BYTES, TX_PACKETS, TX_ERRS, TX_DROP = 8, 9, 10, 11


def _d(after: int, before: int) -> int:
    return max(0, after - before)


def tcp_counters(before: Counters, after: Counters) -> TcpCounters | None:
    """TCP segments, retransmits, listen overflows and errors over the window.

    >>> from perfbook.probes.host_proc import Counters
    >>> c = lambda out, re, lo: Counters(None, 0, {}, None, None, None, {"OutSegs": out, "RetransSegs": re},
    ...                                  {"ListenOverflows": lo}, None)
    >>> t = tcp_counters(c(100, 1, 0), c(1100, 51, 3))
    >>> t.out_segs, t.retrans_segs, t.retrans_share, t.listen_overflows
    (1000, 50, 0.05, 3)
    """
    if before.tcp is None or after.tcp is None:
        return None
    b_ext, a_ext = before.tcp_ext or {}, after.tcp_ext or {}

    def tcp(key: str) -> int:
        return _d((after.tcp or {}).get(key, 0), (before.tcp or {}).get(key, 0))

    def ext(key: str) -> int:
        return _d(a_ext.get(key, 0), b_ext.get(key, 0))

    out, retrans = tcp("OutSegs"), tcp("RetransSegs")
    return TcpCounters(
        out_segs=out,
        retrans_segs=retrans,
        retrans_share=round(retrans / out, 4) if out else None,
        listen_overflows=ext("ListenOverflows"),
        listen_drops=ext("ListenDrops"),
        attempt_fails=tcp("AttemptFails"),
        estab_resets=tcp("EstabResets"),
        in_errs=tcp("InErrs"),
    )


def interface_rates(
    before: Counters, after: Counters, window_s: float, speeds: dict[str, int]
) -> list[InterfaceRates]:
    """Each interface's rates, errors and drops over the window, against its link speed; busiest first."""
    if before.interfaces is None or after.interfaces is None or window_s <= 0:
        return []
    out = []
    for name, a in after.interfaces.items():
        b = before.interfaces.get(name)
        if b is None:
            continue
        rx, tx = _d(a[RX_BYTES], b[RX_BYTES]) / window_s, _d(a[TX_BYTES], b[TX_BYTES]) / window_s
        speed = speeds.get(name)
        link_bytes_per_s = speed * 1e6 / 8 if speed else None
        out.append(
            InterfaceRates(
                name=name,
                rx_bytes_per_s=round(rx, 1),
                tx_bytes_per_s=round(tx, 1),
                rx_packets=_d(a[RX_PACKETS], b[RX_PACKETS]),
                tx_packets=_d(a[TX_PACKETS], b[TX_PACKETS]),
                errors=_d(a[RX_ERRS], b[RX_ERRS]) + _d(a[TX_ERRS], b[TX_ERRS]),
                dropped=_d(a[RX_DROP], b[RX_DROP]) + _d(a[TX_DROP], b[TX_DROP]),
                speed_mbps=speed,
                rx_util_pct=round(min(100.0, rx / link_bytes_per_s * 100), 1) if link_bytes_per_s else None,
                tx_util_pct=round(min(100.0, tx / link_bytes_per_s * 100), 1) if link_bytes_per_s else None,
            )
        )
    return sorted(out, key=lambda i: i.rx_bytes_per_s + i.tx_bytes_per_s, reverse=True)


def socket_states(sockets: Sockets, earlier: Sockets | None = None) -> SocketStates:
    """States at the end; listen queues holding connections at the start or the end, fullest first."""
    listeners = dict(sockets.listeners)
    for port, queued in (earlier.listeners if earlier else {}).items():
        listeners[port] = max(listeners.get(port, 0), queued)
    backlogs = {**(earlier.backlogs if earlier else {}), **sockets.backlogs}
    held = [Listener(port, q, backlogs.get(port)) for port, q in listeners.items() if q > 0]
    ports = sorted(sockets.close_wait_ports.items(), key=lambda kv: kv[1], reverse=True)[:TOP_PORTS]
    s = sockets.by_state
    return SocketStates(
        established=s.get("established", 0),
        time_wait=s.get("time_wait", 0),
        close_wait=s.get("close_wait", 0),
        syn_recv=s.get("syn_recv", 0),
        close_wait_ports=[PortCount(p, n) for p, n in ports],
        listeners=sorted(held, key=lambda lst: lst.queued, reverse=True),
    )


def ephemeral_ports(sockets: Sockets, port_range: tuple[int, int] | None) -> EphemeralPorts | None:
    """How much of the ephemeral range the non-listening sockets hold.

    >>> ephemeral_ports(Sockets(local_ports=[40000, 40001, 80]), (40000, 40009))
    EphemeralPorts(low=40000, high=40009, in_use=2, used_pct=20.0)
    """
    if port_range is None or port_range[1] < port_range[0]:
        return None
    low, high = port_range
    in_use = sum(1 for p in sockets.local_ports if low <= p <= high)
    return EphemeralPorts(low, high, in_use, round(in_use / (high - low + 1) * 100, 1))


def conntrack(entries: tuple[int, int] | None) -> Conntrack | None:
    """The conntrack table's fill (None: not loaded).

    >>> conntrack((65000, 65536))
    Conntrack(count=65000, max=65536, used_pct=99.2)
    """
    if entries is None or entries[1] <= 0:
        return None
    count, size = entries
    return Conntrack(count, size, round(count / size * 100, 1))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0–100) of ``values``; None when empty.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95), percentile([], 50)
    (5.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def dependency_latency(
    target: str, address: str, connect_ms: list[float | None], error: str | None, timeouts: int = 0
) -> DependencyLatency:
    """Connect-time percentiles of one dependency; a None is a failed connect (``timeouts`` of them unanswered)."""
    ok = [ms for ms in connect_ms if ms is not None]

    def fmt(v: float | None) -> float | None:
        return round(v, 2) if v is not None else None

    return DependencyLatency(
        target=target,
        address=address,
        samples=len(connect_ms),
        failures=len(connect_ms) - len(ok),
        timeouts=timeouts,
        p50_ms=fmt(percentile(ok, 50)),
        p95_ms=fmt(percentile(ok, 95)),
        max_ms=fmt(max(ok, default=None)),
        error=error if len(ok) < len(connect_ms) else None,
    )


def evidence(
    before: Counters,
    after: Counters,
    window_s: float,
    sockets0: Sockets | None,
    sockets: Sockets | None,
    speeds: dict[str, int],
    port_range: tuple[int, int] | None,
    conntrack_entries: tuple[int, int] | None,
    latency: list[DependencyLatency] | None = None,
    problems: list[str] | None = None,
) -> NetworkEvidence:
    """The network evidence from the probe's reads (or a recorded tree's)."""
    return NetworkEvidence(
        window_s=round(window_s, 3),
        tcp=tcp_counters(before, after),
        interfaces=interface_rates(before, after, window_s, speeds),
        sockets=socket_states(sockets, sockets0) if sockets else None,
        ephemeral=ephemeral_ports(sockets, port_range) if sockets else None,
        conntrack=conntrack(conntrack_entries),
        latency=list(latency or []),
        problems=list(problems or []),
    )
