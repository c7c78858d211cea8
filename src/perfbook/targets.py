"""What a target *is*, apart from how it is spelt: the identity two reports or configs are compared by.

``postgresql://app:pw@LOCALHOST/app`` and ``host=127.0.0.1 port=5432 dbname=app user=app`` are the
same database; ``redis://h:6379/0`` and ``redis://h:6379/3`` the same server (a fix names its db).
A saved report carries its targets redacted and :func:`fingerprint` of them, so ``fix
--from-report`` can refuse a report taken against another system. Pure, no secrets kept.

    >>> target_identity("postgres", "postgresql://app:pw@localhost/app")
    'postgres app@localhost:5432/app'
    >>> target_identity("postgres", "host=127.0.0.1 dbname=app user=app password='x y'")
    'postgres app@localhost:5432/app'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "localhost.localdomain", ""})
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "http": 80, "https": 443}
_KEYWORD = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.|'')*'|\S+)")


def _host(host: str | None) -> str:
    host = (host or "").lower()
    return "localhost" if host in LOOPBACK else host


def _postgres(dsn: str) -> str:
    if "://" in dsn:
        parts = urlsplit(dsn)
        fields = {
            "host": parts.hostname or "",
            "port": str(parts.port or ""),
            "user": unquote(parts.username or ""),
            "dbname": unquote(parts.path.lstrip("/")),
        }
        fields.update(
            {
                k: v
                for k, v in (p.split("=", 1) for p in parts.query.split("&") if "=" in p)
                if k in ("host", "port", "dbname", "user")
            }
        )
    else:
        fields = {k: v.strip("'") for k, v in _KEYWORD.findall(dsn)}
    user, dbname = fields.get("user", ""), fields.get("dbname") or fields.get("user", "")
    port = fields.get("port") or DEFAULT_PORTS["postgres"]
    return f"postgres {user}@{_host(fields.get('host'))}:{port}/{dbname}"


def target_identity(layer: str, value: str) -> str:
    """``layer``'s target as one comparable string (host normalised, default port filled, no secret)."""
    if not value:
        return f"{layer} none"
    if layer == "postgres":
        return _postgres(value)
    if layer == "host":  # "this machine (web-1)" / "remote: host probes skipped"
        return f"host {value.strip().lower()}"
    parts = urlsplit(value)
    if layer == "redis":
        if parts.scheme == "unix":
            return f"redis unix:{parts.path}"
        return f"redis {_host(parts.hostname)}:{parts.port or DEFAULT_PORTS['redis']}"
    port = parts.port or DEFAULT_PORTS.get(parts.scheme) or ""
    path = parts.path if parts.scheme in ("unix", "npipe") else ""
    return f"{layer} {parts.scheme}://{_host(parts.hostname)}:{port}{path}"


def fingerprint(targets: Mapping[str, str]) -> str:
    """A short hash of every target's identity (the report's ``target.fingerprint``).

    >>> fingerprint({"postgres": "postgresql://a@localhost/x"}) == fingerprint({"postgres": "host=::1 user=a dbname=x"})
    True
    """
    text = "\n".join(sorted(target_identity(layer, v) for layer, v in targets.items() if isinstance(v, str)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
