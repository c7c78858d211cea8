"""What the network probe hands ``rules/network.py``: field names are the contract.

The runbook's "Network Performance" type, of the network namespace perfbook runs in: TCP
counters (``/proc/net/snmp``, ``/proc/net/netstat``) and interface counters (``/proc/net/dev``)
diffed over the window, socket states and listen queues (``/proc/net/tcp``, ``tcp6``) at its end,
ephemeral port and conntrack table use, and the TCP connect time to each configured dependency.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TcpCounters:
    """TCP counters of the namespace, diffed over the window (``sar -n TCP,ETCP``)."""

    out_segs: int  # segments sent (``OutSegs``)
    retrans_segs: int  # segments sent again (``RetransSegs``)
    retrans_share: float | None  # retrans_segs / out_segs, 0–1 (None: nothing sent)
    listen_overflows: int  # connections a full accept queue turned away (``ListenOverflows``)
    listen_drops: int  # SYNs dropped at a listener for any reason (``ListenDrops``)
    attempt_fails: int  # connects that failed (``AttemptFails``)
    estab_resets: int  # established connections reset (``EstabResets``)
    in_errs: int  # segments received in error (``InErrs``)


@dataclass
class InterfaceRates:
    """One network interface over the window (``sar -n DEV``, ``ip -s link``)."""

    name: str  # interface name, e.g. eth0
    rx_bytes_per_s: float  # bytes received per second
    tx_bytes_per_s: float  # bytes sent per second
    rx_packets: int  # packets received in the window
    tx_packets: int  # packets sent in the window
    errors: int  # receive + transmit errors in the window
    dropped: int  # receive + transmit drops in the window
    speed_mbps: int | None  # link speed the NIC reports (None: virtual, or not reported)
    rx_util_pct: float | None  # receive rate of the link speed, 0–100 (None: no speed)
    tx_util_pct: float | None  # transmit rate of the link speed, 0–100 (None: no speed)


@dataclass
class Listener:
    """A listening TCP socket whose accept queue held connections at the end of the window."""

    port: int  # local port
    queued: int  # connections waiting to be accepted (ss's Recv-Q)
    #: its listen() backlog, the queue's limit (ss's Send-Q); None when read from /proc, which lacks it
    backlog: int | None = None


@dataclass
class PortCount:
    """Sockets in one state on one local port."""

    port: int  # local port
    count: int  # sockets


@dataclass
class SocketStates:
    """TCP sockets by state at the end of the window (``ss -s``), IPv4 and IPv6."""

    established: int  # ESTABLISHED
    time_wait: int  # TIME_WAIT (closed by this side, waiting out 2 MSL)
    close_wait: int  # CLOSE_WAIT (closed by the peer, not yet by the application: a leak when it grows)
    syn_recv: int  # SYN_RECV (handshakes in progress at a listener)
    #: CLOSE_WAIT by local port, most first (≤ 5)
    close_wait_ports: list[PortCount] = field(default_factory=list)
    #: listen queues holding connections, fullest first
    listeners: list[Listener] = field(default_factory=list)


@dataclass
class EphemeralPorts:
    """Local ports of the ephemeral range in use by outgoing connections (``ip_local_port_range``)."""

    low: int  # first port of the range
    high: int  # last port of the range
    in_use: int  # sockets (any state but LISTEN) whose local port is in the range
    used_pct: float  # in_use / range size, 0–100


@dataclass
class Conntrack:
    """The netfilter connection-tracking table (absent when nf_conntrack is not loaded)."""

    count: int  # entries now (``nf_conntrack_count``)
    max: int  # table size (``nf_conntrack_max``): new flows are dropped when it is full
    used_pct: float  # count / max, 0–100


@dataclass
class DependencyLatency:
    """TCP connect time to one configured dependency, timed across the window."""

    target: str  # config key naming it: "http", "postgres", "redis", "frontend"
    address: str  # host:port connected to (never credentials)
    samples: int  # connects attempted
    failures: int  # connects refused or timed out
    timeouts: int  # of those, connects unanswered within the window (SYNs dropped: a full queue, a firewall)
    p50_ms: float | None  # median connect time over the window (None: no connect succeeded)
    p95_ms: float | None  # 95th percentile connect time
    max_ms: float | None  # slowest connect
    error: str | None = None  # the last failure's reason


@dataclass
class NetworkEvidence:
    """What the network probe saw of this machine's network namespace."""

    window_s: float  # seconds between the first and the last counter reading
    tcp: TcpCounters | None  # None when /proc/net/snmp could not be read
    interfaces: list[InterfaceRates] = field(default_factory=list)  # busiest first (loopback included)
    sockets: SocketStates | None = None  # None when /proc/net/tcp could not be read
    ephemeral: EphemeralPorts | None = None  # None when the port range could not be read
    conntrack: Conntrack | None = None  # None: nf_conntrack not loaded in this namespace
    latency: list[DependencyLatency] = field(default_factory=list)  # one per configured dependency
    problems: list[str] = field(default_factory=list)  # figures that could not be read, and why
