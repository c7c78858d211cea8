"""Safety checks before sending load: is the target on this machine?"""

from __future__ import annotations

import ipaddress
import socket

import psutil


def local_addresses() -> set[str]:
    """Every address of this machine's interfaces (plus loopback)."""
    addrs = {"127.0.0.1", "::1"}
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addrs.add(entry.address.split("%")[0])
    return addrs


def is_local(host: str) -> bool:
    """True when every address ``host`` resolves to is loopback or this machine's own."""
    if host in ("localhost", "localhost.localdomain"):
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
