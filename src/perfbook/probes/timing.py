"""Small helpers shared by the request-timing probes (http, metrics, websocket, frontend).

Pure except for reading an environment variable in :func:`headers_from_env`:

    >>> percentile([0.1, 0.2, 0.3, 0.4, 5.0], 0.95)
    5.0
    >>> percentile([0.1, 0.2, 0.3, 0.4], 0.5)
    0.2
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

# Transport error kinds, as counted in EndpointTiming.errors and named in reasons.
KIND_TEXT = {
    "timeout": "no answer within {timeout:g} s from {host}",
    "connect_timeout": "connect timed out after {timeout:g} s to {host}",
    "connect_refused": "connection refused {host}",
    "reset": "connection reset by {host}",
    "dns": "cannot resolve {host}",
    "tls": "TLS handshake failed with {host}",
    "headers_over_limit": "response headers over [http] max_headers / max_header_bytes from {host}",
    "other": "request to {host} failed",
}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (a value that was really observed); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float | None:
    """The nearest-rank median, or None."""
    return percentile(values, 0.5)


def transport_error_kind(err: BaseException) -> str:
    """``timeout``, ``connect_timeout``, ``connect_refused``, ``reset``, ``dns``, ``tls`` or ``other``.

    Walks the exception chain: httpx wraps the OS error (``ConnectionRefusedError``) twice.
    """
    if isinstance(err, TimeoutError):
        return "timeout"
    name = type(err).__name__
    if name == "ConnectTimeout":
        return "connect_timeout"
    if name in ("ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException"):
        return "timeout"
    seen: BaseException | None = err
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connect_refused"
        if isinstance(seen, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return "reset"
        if isinstance(seen, socket.gaierror):
            return "dns"
        if isinstance(seen, ssl.SSLError):
            return "tls"
        seen = seen.__cause__ or seen.__context__
    if name in ("RemoteProtocolError", "ReadError", "ConnectionClosed", "ConnectionClosedError"):
        return "reset"  # "Server disconnected without sending a response"
    return "other"


def host_port(url: str) -> str:
    """``host:port`` of a URL, with the scheme's default port.

    >>> host_port("http://localhost/x"), host_port("wss://example.com/ws"), host_port("http://[::1]:81")
    ('localhost:80', 'example.com:443', '[::1]:81')
    """
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def unreachable_reason(kinds: Mapping[str, int], url: str, timeout_s: float) -> str:
    """One line for the most frequent error kind: ``connection refused 127.0.0.1:8001``."""
    kind = max(kinds, key=lambda k: kinds[k]) if kinds else "other"
    return KIND_TEXT.get(kind, KIND_TEXT["other"]).format(host=host_port(url), timeout=timeout_s)


def tls_verify(url: str, verify: bool | str) -> bool | str:
    """``verify`` for a client that only talks to ``url`` without following redirects.

    A plain-http target never does TLS, and skipping the CA bundle saves ~50 ms per client.
    """
    return verify if urlsplit(url).scheme == "https" else False


def headers_from_env(
    var: str | None, env: Mapping[str, str] | None = None
) -> tuple[dict[str, str], str | None]:
    """Headers from an env var holding ``Name: value`` lines, and a note when it is not usable.

    The note names the variable, never a value (headers often carry tokens).
    """
    if not var:
        return {}, None
    env = os.environ if env is None else env
    text = env.get(var)
    if text is None:
        return {}, f"headers_env {var} is not set: sent without its headers"
    headers, bad = {}, 0
    for line in text.replace("\\n", "\n").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            bad += 1
            continue
        headers[name.strip()] = value.strip()
    note = f"headers_env {var}: {bad} line(s) without 'Name: value' left out" if bad else None
    return headers, note


async def read_capped(response: Any, limit_bytes: int) -> tuple[bytes, bool]:
    """A streamed response's body, decoded, at most ``limit_bytes`` of it; (body, whether it was cut).

    Counting decoded bytes bounds a compressed bomb too. The rest is not read: the connection closes.
    """
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit_bytes:
            chunks.append(chunk[: limit_bytes - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


async def drain_capped(response: Any, limit_bytes: int) -> tuple[int, bool]:
    """Read and drop a streamed body as it comes (bytes over the wire), at most ``limit_bytes``; (bytes, cut)."""
    async for _ in response.aiter_raw():
        if response.num_bytes_downloaded > limit_bytes:
            return response.num_bytes_downloaded, True
    return response.num_bytes_downloaded, False


def header_problem(response: Any, max_headers: int, max_header_bytes: int) -> str | None:
    """Why a response's headers are over the limits (count, total size), else None.

    httpcore has read them already, bounded at 100 KiB; this holds them to the configured limits.
    """
    pairs = response.headers.raw
    if len(pairs) > max_headers:
        return f"{len(pairs)} response headers, over [http] max_headers {max_headers}"
    size = sum(len(k) + len(v) + 4 for k, v in pairs)
    if size > max_header_bytes:
        return f"response headers of {size} bytes, over [http] max_header_bytes {max_header_bytes}"
    return None


async def in_daemon_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a daemon thread, awaited: unlike ``asyncio.to_thread``, a probe cut off by its
    budget leaves no executor thread that ``asyncio.run`` waits for after triage has reported (the
    report's duration then stays the wall time)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as err:  # handed to the awaiting coroutine, raised there
            loop.call_soon_threadsafe(_settle, future, None, err)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=run, name=f"perfbook-{getattr(fn, '__name__', 'work')}", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[Any], result: Any, err: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile (the probe's budget ran out)
        return
    if err is not None:
        future.set_exception(err)
    else:
        future.set_result(result)
