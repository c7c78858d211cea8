"""What to send: the target URL and the prepared request bytes (built once, written many times)."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from perfbook import __version__
from perfbook.errors import UsageError

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Target:
    """Where the connections go.

    >>> Target.parse("http://127.0.0.1:8001/health?x=1").request_path
    '/health?x=1'
    """

    url: str
    scheme: str
    host: str
    port: int
    request_path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """Split and check a URL; a missing scheme means http."""
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"load: not an http(s) URL: {url}", hint="e.g. http://127.0.0.1:8001/health")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            raise UsageError(f"load: bad port in {url}: {err}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(url, parts.scheme, parts.hostname, port, path)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def ssl_context(self, verify: bool = True) -> ssl.SSLContext | None:
        """None for http; a client context for https (verification can be turned off)."""
        if self.scheme != "https":
            return None
        ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


def parse_header(line: str) -> tuple[str, str]:
    """``'Name: value'`` → (name, value), as curl's and ab's ``-H``."""
    name, sep, value = line.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \r\n"):
        raise UsageError(f"load: bad header {line!r}", hint="use -H 'Name: value'")
    return name.strip(), value.strip()


def read_body(body: str | None, json_body: str | None) -> tuple[bytes, str | None]:
    """The request body and its content type from ``--body`` / ``--json`` (``@file`` or inline)."""
    if body is not None and json_body is not None:
        raise UsageError("load: give --body or --json, not both")
    raw = body if body is not None else json_body
    if raw is None:
        return b"", None
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UsageError(f"load: cannot read body file {path}: {err.strerror}") from None
    else:
        data = raw.encode()
    if json_body is None:
        return data, None
    try:
        json.loads(data)
    except ValueError as err:
        raise UsageError(f"load: --json body is not valid JSON: {err}") from None
    return data, "application/json"


def build_request(
    target: Target,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    keepalive: bool = True,
) -> bytes:
    """The exact bytes of one HTTP/1.1 request; user headers replace the defaults of the same name."""
    method = method.upper()
    if method not in METHODS:
        raise UsageError(f"load: unsupported method {method}", hint=f"one of {', '.join(METHODS)}")
    fields: dict[str, tuple[str, str]] = {}
    defaults = [("Host", target.host_header), ("User-Agent", f"perfbook/{__version__}"), ("Accept", "*/*")]
    if content_type:
        defaults.append(("Content-Type", content_type))
    if not keepalive:
        defaults.append(("Connection", "close"))
    for name, value in [*defaults, *(headers or [])]:
        fields[name.lower()] = (name, value)
    if body or method in ("POST", "PUT", "PATCH"):
        fields["content-length"] = ("Content-Length", str(len(body)))
    head = f"{method} {target.request_path} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in fields.values())
    return head.encode("latin-1") + b"\r\n" + body
