"""Readers of the kernel's counters under a ``/proc`` (and ``/sys``) root, and their parsers.

Every reader takes its root as a parameter (``read_counters(Path("/proc"))``), so the same code
reads this machine and the recorded trees of ``tests/fixtures/proc/``; the parsers are pure.
What is read here is raw and cumulative: ``host_build`` and ``network_build`` diff two readings
over the window (a lifetime total is never a window figure). A file that is missing (a kernel
without PSI, no conntrack module) reads as None, never as zero.

    before = read_counters(Path("/proc")); ...; after = read_counters(Path("/proc"))
    host_build.saturation(before, after)
"""

from __future__ import annotations

import errno
import os
import re
import socket
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

PSI_RESOURCES = ("cpu", "memory", "io")
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
VMSTAT_KEYS = ("pgmajfault", "pswpin", "pswpout", "oom_kill")
TCP_KEYS = ("OutSegs", "RetransSegs", "AttemptFails", "EstabResets", "InErrs")
TCPEXT_KEYS = ("ListenOverflows", "ListenDrops")
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size
# whole devices only: partitions and loop / ram disks would count the same I/O twice or none
_PARTITION = re.compile(r"^((sd|vd|xvd|hd)[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)$")
_SKIP_DEVICES = ("loop", "ram", "zram", "fd", "sr")
MAX_SOCKET_LINES = 200_000  # a host with more sockets than this is read in part (and says so)

TCP_STATES = {
    1: "established",
    2: "syn_sent",
    3: "syn_recv",
    4: "fin_wait1",
    5: "fin_wait2",
    6: "time_wait",
    7: "close",
    8: "close_wait",
    9: "last_ack",
    10: "listen",
    11: "closing",
}


@dataclass(frozen=True)
class DiskCounters:
    """One device's cumulative ``/proc/diskstats`` fields (ms and 512-byte sectors)."""

    reads: int
    read_sectors: int
    read_ms: int
    writes: int
    write_sectors: int
    write_ms: int
    io_ticks_ms: int
    weighted_ms: int


@dataclass(frozen=True)
class Counters:
    """One reading of the host's cumulative counters (None: that file is absent or unreadable)."""

    cpu_ticks: dict[str, int] | None  # the aggregate "cpu" line of /proc/stat, by field
    cores: int  # "cpuN" lines of /proc/stat
    psi: dict[str, tuple[int, int | None]]  # resource -> (some total µs, full total µs)
    vmstat: dict[str, int] | None  # the VMSTAT_KEYS present in /proc/vmstat
    disks: dict[str, DiskCounters] | None  # whole block devices
    uptime_s: float | None  # /proc/uptime: the kernel log's clock, to keep only the window's records
    tcp: dict[str, int] | None  # Tcp: counters of /proc/net/snmp
    tcp_ext: dict[str, int] | None  # TcpExt: counters of /proc/net/netstat
    interfaces: dict[str, tuple[int, ...]] | None  # name -> /proc/net/dev's 16 counters
    problems: tuple[str, ...] = ()  # files that exist but could not be read, and why


@dataclass
class Sockets:
    """TCP sockets of /proc/net/tcp and tcp6 at one moment."""

    by_state: dict[str, int] = field(default_factory=dict)
    close_wait_ports: dict[int, int] = field(default_factory=dict)  # local port -> sockets in CLOSE_WAIT
    listeners: dict[int, int] = field(default_factory=dict)  # port -> connections in its accept queue
    backlogs: dict[int, int] = field(default_factory=dict)  # port -> its listen() backlog (netlink only)
    local_ports: list[int] = field(default_factory=list)  # local port of every non-listening socket
    truncated: bool = False


def _read(path: Path, problems: list[str]) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:  # PermissionError, or PSI disabled at boot (EOPNOTSUPP)
        if err.errno not in (errno.EOPNOTSUPP, errno.ENOENT):
            problems.append(f"{path}: {err.strerror or err}")
        return None


def read_counters(proc: Path = Path("/proc"), host: bool = True, net: bool = True) -> Counters:
    """Read the cumulative counters the host (``host``) and network (``net``) probes diff over the
    window (~1 ms each half); the half not asked for is None."""
    problems: list[str] = []
    if not host:
        return _with_net(Counters(None, 0, {}, None, None, None, None, None, None), proc, problems)
    stat = _read(proc / "stat", problems)
    cpu_ticks, cores = parse_stat(stat) if stat is not None else (None, 0)
    psi: dict[str, tuple[int, int | None]] = {}
    for resource in PSI_RESOURCES:
        text = _read(proc / "pressure" / resource, problems)
        parsed = parse_psi(text) if text is not None else None
        if parsed is not None:
            psi[resource] = parsed
    vm = _read(proc / "vmstat", problems)
    disks = _read(proc / "diskstats", problems)
    uptime = _read(proc / "uptime", problems)
    counters = Counters(
        cpu_ticks=cpu_ticks,
        cores=cores,
        psi=psi,
        vmstat=parse_vmstat(vm) if vm is not None else None,
        disks=parse_diskstats(disks) if disks is not None else None,
        uptime_s=float(uptime.split()[0]) if uptime else None,
        tcp=None,
        tcp_ext=None,
        interfaces=None,
    )
    return _with_net(counters, proc, problems) if net else replace(counters, problems=tuple(problems))


def _with_net(counters: Counters, proc: Path, problems: list[str]) -> Counters:
    snmp = _read(proc / "net" / "snmp", problems)
    netstat = _read(proc / "net" / "netstat", problems)
    dev = _read(proc / "net" / "dev", problems)
    return replace(
        counters,
        tcp=parse_snmp(snmp, "Tcp", TCP_KEYS) if snmp is not None else None,
        tcp_ext=parse_snmp(netstat, "TcpExt", TCPEXT_KEYS) if netstat is not None else None,
        interfaces=parse_net_dev(dev) if dev is not None else None,
        problems=tuple(problems),
    )


def read_runnable(proc: Path = Path("/proc")) -> int | None:
    """Runnable tasks now, less the reader itself (the 4th field of /proc/loadavg: "5/192")."""
    try:
        running = int((proc / "loadavg").read_text().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None
    return max(0, running - 1)


def parse_stat(text: str) -> tuple[dict[str, int] | None, int]:
    """The aggregate cpu line of /proc/stat by field, and the number of cpuN lines.

    >>> parse_stat("cpu  10 0 5 80 3 0 0 2 0 0\\ncpu0 5 0 2 40 1 0 0 1 0 0\\nintr 1 2\\n")
    ({'user': 10, 'nice': 0, 'system': 5, 'idle': 80, 'iowait': 3, 'irq': 0, 'softirq': 0, 'steal': 2}, 1)
    """
    ticks: dict[str, int] | None = None
    cores = 0
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            ticks = {name: values[i] if i < len(values) else 0 for i, name in enumerate(CPU_FIELDS)}
        elif line.startswith("cpu"):
            cores += 1
        elif ticks is not None:
            break  # the cpu lines come first; the rest (intr …) is long and not needed
    return ticks, cores


def parse_psi(text: str) -> tuple[int, int | None] | None:
    """(some total µs, full total µs) of a /proc/pressure file.

    >>> parse_psi("some avg10=1.00 avg60=0.50 avg300=0.10 total=1500\\n"
    ...           "full avg10=0.00 avg60=0.00 avg300=0.00 total=20\\n")
    (1500, 20)
    """
    totals: dict[str, int] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for part in rest.split():
            if part.startswith("total="):
                totals[kind] = int(part[6:])
    if "some" not in totals:
        return None
    return totals["some"], totals.get("full")


def parse_vmstat(text: str) -> dict[str, int]:
    """The :data:`VMSTAT_KEYS` of /proc/vmstat (a key the kernel lacks is left out).

    >>> parse_vmstat("nr_free_pages 10\\npgmajfault 7\\noom_kill 1\\n")
    {'pgmajfault': 7, 'oom_kill': 1}
    """
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in VMSTAT_KEYS:
            out[key] = int(value)
    return out


def is_whole_device(name: str) -> bool:
    """A disk, not a partition or a loop / ram device.

    >>> [n for n in ("vda", "vda1", "nvme0n1", "nvme0n1p2", "loop0", "dm-0", "sdb") if is_whole_device(n)]
    ['vda', 'nvme0n1', 'dm-0', 'sdb']
    """
    return not name.startswith(_SKIP_DEVICES) and not _PARTITION.match(name)


def parse_diskstats(text: str) -> dict[str, DiskCounters]:
    """Whole block devices of /proc/diskstats."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 14 or not is_whole_device(f[2]):
            continue
        v = [int(x) for x in f[3:14]]
        out[f[2]] = DiskCounters(
            reads=v[0],
            read_sectors=v[2],
            read_ms=v[3],
            writes=v[4],
            write_sectors=v[6],
            write_ms=v[7],
            io_ticks_ms=v[9],
            weighted_ms=v[10],
        )
    return out


def parse_snmp(text: str, prefix: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The ``keys`` of one protocol's header / values line pair (/proc/net/snmp, /proc/net/netstat).

    >>> parse_snmp("Tcp: OutSegs RetransSegs\\nTcp: 100 3\\n", "Tcp", ("RetransSegs",))
    {'RetransSegs': 3}
    """
    lines = [line.split() for line in text.splitlines() if line.startswith(prefix + ":")]
    if len(lines) < 2:
        return {}
    header, values = lines[0][1:], lines[1][1:]
    row = dict(zip(header, values, strict=False))
    return {k: int(row[k]) for k in keys if k in row}


def parse_net_dev(text: str) -> dict[str, tuple[int, ...]]:
    """/proc/net/dev by interface: rx bytes packets errs drop fifo frame compressed multicast, then tx's 8."""
    out = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        values = rest.split()
        if len(values) >= 16:
            out[name.strip()] = tuple(int(v) for v in values[:16])
    return out


def read_sockets(proc: Path = Path("/proc"), netlink: bool = True) -> Sockets | None:
    """TCP sockets by state, CLOSE_WAIT by port, listen queues and local ports (IPv4 + IPv6).

    For this machine's own ``/proc`` the kernel is asked over sock_diag netlink (what ``ss`` does):
    generating /proc/net/tcp walks the whole established hash once per page and took 60–100 ms
    here against ~10 ms; the files are read for any other root (a recorded tree) or when netlink fails.
    """
    if netlink and proc == Path("/proc"):
        try:
            return read_sockets_netlink()
        except OSError:
            pass
    out, seen = Sockets(), False
    budget = MAX_SOCKET_LINES
    for name in ("tcp", "tcp6"):
        try:
            with open(proc / "net" / name) as fh:
                next(fh, None)  # header
                seen = True
                for line in fh:
                    budget -= 1
                    if budget < 0:
                        out.truncated = True
                        break
                    add_socket_line(out, line)
        except OSError:
            continue
    return out if seen else None


def add_socket(out: Sockets, state: str, port: int, queued: int, backlog: int | None = None) -> None:
    """Count one socket into ``out`` (``queued``: a listener's accept queue; ``backlog``: its limit)."""
    out.by_state[state] = out.by_state.get(state, 0) + 1
    if state == "listen":
        out.listeners[port] = max(out.listeners.get(port, 0), queued)  # IPv4 and IPv6 sockets of one port
        if backlog is not None:
            out.backlogs[port] = max(out.backlogs.get(port, 0), backlog)
        return
    out.local_ports.append(port)
    if state == "close_wait":
        out.close_wait_ports[port] = out.close_wait_ports.get(port, 0) + 1


_NETLINK_SOCK_DIAG, _SOCK_DIAG_BY_FAMILY, _NLMSG_DONE, _NLMSG_ERROR = 4, 20, 3, 2
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG = struct.Struct("=IHHII")
_DIAG_MSG = struct.Struct("=BBBBHH16s16sI8sIIIII")  # inet_diag_msg; ports are big-endian


def read_sockets_netlink() -> Sockets:
    """The TCP sockets of this network namespace over sock_diag netlink (IPv4 and IPv6)."""
    out = Sockets()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(2.0)
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            # inet_diag_req_v2: family, protocol, ext, pad, states (all), then a zero inet_diag_sockid
            req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + bytes(48)
            nl.send(
                _NLMSG.pack(_NLMSG.size + len(req), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, seq, 0) + req
            )
            while _diag_batch(nl.recv(1 << 16), out):
                if sum(out.by_state.values()) > MAX_SOCKET_LINES:
                    out.truncated = True
                    return out
    return out


def _diag_batch(data: bytes, out: Sockets) -> bool:
    """Count one datagram of the dump into ``out``; False once the dump is done."""
    offset = 0
    while offset + _NLMSG.size <= len(data):
        length, kind, _, _, _ = _NLMSG.unpack_from(data, offset)
        if kind == _NLMSG_DONE:
            return False
        if kind == _NLMSG_ERROR:
            raise OSError(errno.EIO, "sock_diag refused the dump")
        if length < _NLMSG.size:
            return False
        if kind == _SOCK_DIAG_BY_FAMILY:
            f = _DIAG_MSG.unpack_from(data, offset + _NLMSG.size)
            # a listener's idiag_rqueue is its accept queue, idiag_wqueue its backlog (ss's Send-Q)
            add_socket(out, TCP_STATES.get(f[1], "other"), socket.ntohs(f[4]), f[11], f[12])
        offset += (length + 3) & ~3
    return True


def add_socket_line(out: Sockets, line: str) -> None:
    """Count one line of /proc/net/tcp[6] into ``out``.

    >>> s = Sockets()
    >>> add_socket_line(s, "0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:0 0 0 0 1 0")
    >>> s.listeners, s.by_state
    ({8080: 2}, {'listen': 1})
    """
    f = line.split()
    if len(f) < 5:
        return
    state = TCP_STATES.get(int(f[3], 16), "other")
    # a listener's rx_queue is its accept queue's length
    add_socket(out, state, int(f[1].rsplit(":", 1)[1], 16), int(f[4].partition(":")[2], 16))


def read_port_range(proc: Path = Path("/proc")) -> tuple[int, int] | None:
    """The ephemeral port range (``net.ipv4.ip_local_port_range``)."""
    try:
        low, high = (int(v) for v in (proc / "sys/net/ipv4/ip_local_port_range").read_text().split()[:2])
    except (OSError, ValueError):
        return None
    return low, high


def read_conntrack(proc: Path = Path("/proc")) -> tuple[int, int] | None:
    """(entries, table size) of nf_conntrack; None when the module is not loaded here."""
    base = proc / "sys/net/netfilter"
    try:
        return int((base / "nf_conntrack_count").read_text()), int((base / "nf_conntrack_max").read_text())
    except (OSError, ValueError):
        return None


def read_link_speeds(sys_root: Path, names: list[str]) -> dict[str, int]:
    """Link speed in Mbit/s of each interface that reports one (virtual NICs say -1 or fail)."""
    out = {}
    for name in names:
        try:
            speed = int((sys_root / "class/net" / name / "speed").read_text())
        except (OSError, ValueError):
            continue
        if speed > 0:
            out[name] = speed
    return out


_OOM_KILL = re.compile(
    r"oom-kill:.*?(?:oom_memcg=(?P<limit>[^,]*),)?(?:task_memcg=(?P<memcg>[^,]*),)?"
    r"task=(?P<name>[^,]*),pid=(?P<pid>\d+)"
)
_KILLED = re.compile(r"Killed process (?P<pid>\d+) \((?P<name>[^)]*)\)")


def parse_oom_records(records: list[str], since_s: float) -> list[tuple[int, str, str | None, str | None]]:
    """(pid, name, task cgroup, limit cgroup) of each OOM kill the kernel logged after ``since_s``
    seconds of uptime; ``records`` are /dev/kmsg lines ("6,512,1234567,-;message", µs since boot).

    >>> parse_oom_records(["6,1,5000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),"
    ...     "oom_memcg=/t,task_memcg=/t,task=python3,pid=42,uid=0",
    ...     "3,2,5000100,-;Memory cgroup out of memory: Killed process 42 (python3) total-vm:1kB"], 4.0)
    [(42, 'python3', '/t', '/t')]
    """
    victims: dict[int, tuple[int, str, str | None, str | None]] = {}
    for record in records:
        head, _, message = record.partition(";")
        parts = head.split(",")
        try:
            at_s = int(parts[2]) / 1e6
        except (IndexError, ValueError):
            continue
        if at_s < since_s:
            continue
        if m := _OOM_KILL.search(message):
            pid = int(m["pid"])
            victims[pid] = (pid, m["name"], m["memcg"], m["limit"])
        elif (k := _KILLED.search(message)) and int(k["pid"]) not in victims:
            victims[int(k["pid"])] = (int(k["pid"]), k["name"], None, None)
    return list(victims.values())


def read_kmsg(path: Path = Path("/dev/kmsg"), max_records: int = 20_000) -> list[str]:
    """The kernel log's records still in its ring buffer, read without blocking (bounded).

    OSError (PermissionError in a container, ENOENT) propagates: the caller says why.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    records: list[str] = []
    try:
        while len(records) < max_records:
            try:
                chunk = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno == errno.EPIPE:  # a record was overwritten while reading: go on
                    continue
                raise
            if not chunk:
                break
            records.append(chunk.decode("utf-8", "replace").split("\n", 1)[0])
    finally:
        os.close(fd)
    return records


def read_cpu_throttling(cgroup_text: str, root: Path = Path("/sys/fs/cgroup")) -> tuple[int, int, int] | None:
    """(CFS periods, throttled periods, throttled ns) of the CPU cgroup a process's /proc/PID/cgroup
    names (v1 ``N:cpu,cpuacct:/path`` or v2 ``0::/path``); None when none is found here.

    >>> read_cpu_throttling("1:cpu:/nowhere\\n", Path("/nonexistent")) is None
    True
    """
    from perfbook.probes.containers_parse import parse_cpu_stat  # the same cpu.stat the containers read

    candidates: list[Path] = []
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1].split(","), parts[2].lstrip("/")
        if "cpu" in controllers:
            candidates += [root / parts[1] / path, root / "cpu" / path, root / "cpu,cpuacct" / path]
        elif parts[0] == "0" and parts[1] == "":
            candidates.append(root / path)
    for directory in candidates:
        try:
            return parse_cpu_stat((directory / "cpu.stat").read_text())
        except OSError:
            continue
    return None


def read_process_io(proc: Path = Path("/proc")) -> dict[int, tuple[int, int]]:
    """Storage bytes read and written by each process we may read (``/proc/PID/io``), by pid (~2 ms)."""
    out: dict[int, tuple[int, int]] = {}
    try:
        entries = list(os.scandir(proc))
    except OSError:
        return out
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            text = (proc / entry.name / "io").read_text()
        except OSError:  # gone, or another user's process
            continue
        values = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
        try:
            out[int(entry.name)] = (int(values["read_bytes"]), int(values["write_bytes"]))
        except (KeyError, ValueError):
            continue
    return out


def read_comm(proc: Path, pid: int) -> str:
    """A process's short name; "?" when it is gone."""
    try:
        return (proc / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"
