"""Is a target this machine? One answer for triage and for load.

Triage runs the probes that describe this machine (host, process, containers) only when every
target is local, and load asks before sending traffic to another machine. Both start from
:func:`is_local_host`, which decides by the name or address alone (no lookup: triage must not wait
on DNS before its time budget starts); load then resolves a name that test does not settle
(:func:`resolves_local`), since that is what it will connect to.

    >>> is_local_host("127.0.0.1"), is_local_host("localhost"), is_local_host("api.example.com")
    (True, True, False)
"""

from __future__ import annotations

import ipaddress
import socket


def is_local_host(host: str) -> bool:
    """True for localhost, loopback and unspecified addresses, and this machine's own name."""
    if host in ("localhost", "localhost.localdomain", "", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or host in ("0.0.0.0", "::")
    except ValueError:
        return host.endswith(".localhost")


def local_addresses() -> set[str]:
    """Every address of this machine's interfaces (plus loopback)."""
    import psutil  # here: triage's imports stay light

    addrs = {"127.0.0.1", "::1"}
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addrs.add(entry.address.split("%")[0])
    return addrs


def resolves_local(host: str) -> bool:
    """:func:`is_local_host`, or every address ``host`` resolves to is loopback or this machine's own."""
    if is_local_host(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    ours = local_addresses()
    for *_, sockaddr in infos:
        addr = str(sockaddr[0]).split("%")[0]
        if not (ipaddress.ip_address(addr).is_loopback or addr in ours):
            return False
    return bool(infos)
