"""Config checked by meaning, after its types: URLs that are URLs, thresholds in order, no stray variables.

Pydantic checks that ``base_url`` is a string and ``severity_p0_s`` a positive number; this module
checks what they mean, so a typo is a config error (exit 2) instead of a P0 outage:

- ``http.base_url`` / ``frontend.url`` are http(s) URLs with a host, ``websocket.url`` ws(s);
  ``postgres.dsn`` a libpq URL or ``key=value`` string, ``redis.url`` a redis(s) / unix URL whose
  db (and ``cache_db`` / ``queue_db``) is within ``[redis] databases``; paths start with ``/``;
- the severity bands are in order (``severity_p0_s > p1 > p2 > p3``);
- a ``PERFBOOK_*`` variable that names no key is named, with the nearest key (a misspelt
  ``PERFBOOK_POSTGRES_DSNN`` would otherwise be silently ignored);
- ``${NAME}`` in a file value is replaced by that environment variable, or by the ``env_file``
  the config names (a file of ``NAME=value`` lines readable by its owner only), so secrets stay
  out of perfbook.toml.

Pure except :func:`read_env_file`. Problems come back as ``(dotted key, message, hint)``; the key
may be ``a|b`` when either of two keys can be the wrong one.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from perfbook.errors import ConfigError
from perfbook.redact import redact

# PERFBOOK_* variables that are not config keys (the CLI, the lab, the tests read them).
# A module that reads a new one adds it here (else a user setting it gets "names no config key").
NON_CONFIG_ENV = frozenset(
    {
        "PERFBOOK_CONFIG",
        "PERFBOOK_DEBUG",
        "PERFBOOK_REQUIRE_SERVICES",
        "PERFBOOK_LAB_DIR",
        "PERFBOOK_RECORD",
        "PERFBOOK_INCIDENT",
        "PERFBOOK_SERVE_TOKEN",
        "PERFBOOK_SMTP_PASSWORD",
    }
)  # the sample's [notify.email] password_env
NON_CONFIG_PREFIXES = ("PERFBOOK_LAB_",)  # the lab's generated secrets (see perfbook.lab.secrets)
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HOST = re.compile(r"[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+")

Problem = tuple[str, str, str | None]


def references(value: Any, key: str = "") -> Iterator[str]:
    """Every variable a (nested) config value refers to: ``${NAME}``, and the name a ``*_env`` key
    holds (``password_env = "PERFBOOK_SMTP_PASSWORD"``, ``headers_env = "API_HEADERS"``)."""
    if isinstance(value, str):
        yield from _REFERENCE.findall(value)
        if key.endswith("_env"):
            yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from references(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from references(v, key)


def expand(value: Any, lookup: Mapping[str, str], dotted: str) -> Any:
    """``value`` with each ``${NAME}`` replaced from ``lookup``; ConfigError naming the first unset one.

    >>> expand("postgresql://app:${PW}@db/app", {"PW": "x"}, "postgres.dsn")
    'postgresql://app:x@db/app'
    """
    if isinstance(value, str):

        def one(m: re.Match[str]) -> str:
            if m[1] not in lookup:
                raise ConfigError(
                    f"{dotted} refers to ${{{m[1]}}}, which is not set",
                    hint='export it, or name a file that sets it with env_file = "…"',
                )
            return lookup[m[1]]

        return _REFERENCE.sub(one, value)
    if isinstance(value, dict):
        return {k: expand(v, lookup, f"{dotted}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, lookup, dotted) for v in value]
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, optional ``export`` and quotes); refused when others can read it."""
    try:
        st = os.stat(path)
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"env_file {path}: {err.strerror}") from None
    if st.st_mode & 0o077:
        raise ConfigError(
            f"env_file {path} can be read by other users (mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"it holds secrets: chmod 600 {path}",
        )
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep and name.strip():
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[name.strip()] = value
    return values


def env_problem(env: Mapping[str, str], known: list[str], referenced: set[str]) -> Problem | None:
    """The first ``PERFBOOK_*`` variable that names no key (and that the file does not refer to)."""
    for var in sorted(env):
        if not var.startswith("PERFBOOK_") or var in known or var in referenced or var in NON_CONFIG_ENV:
            continue
        if var.startswith(NON_CONFIG_PREFIXES):
            continue
        near = difflib.get_close_matches(var, known, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}?" if near else "PERFBOOK_<SECTION>_<KEY>, e.g. PERFBOOK_POSTGRES_DSN"
        return var, f"environment variable {var} names no config key", hint
    return None


def _url_problem(dotted: str, url: str, schemes: tuple[str, ...], need_host: bool = True) -> Problem | None:
    if not url:
        return None
    shown = redact(url)
    parts = urlsplit(url)
    if "://" not in url or not parts.scheme:
        guess = urlsplit(f"{schemes[0]}://{url}")
        looks_like_host = need_host and bool(guess.hostname) and _HOST.fullmatch(guess.hostname or "")
        hint = f"did you mean {schemes[0]}://{shown}?" if looks_like_host else None
        return (
            dotted,
            f"{dotted} must be an {' or '.join(s + '://' for s in schemes)} URL, got {shown!r}",
            hint,
        )
    if parts.scheme.lower() not in schemes:
        return (
            dotted,
            f"{dotted}: scheme {parts.scheme}:// is not {' or '.join(schemes)}, got {shown!r}",
            None,
        )
    try:
        _ = parts.port  # urlsplit parses the port lazily: a bad one raises here
    except ValueError:
        return dotted, f"{dotted}: bad port in {shown!r}", None
    host = parts.hostname or ""
    if need_host and (not host or not _HOST.fullmatch(host)):
        return dotted, f"{dotted}: no valid host in {shown!r}", None
    if any(c.isspace() for c in url):
        return dotted, f"{dotted}: a URL has no spaces, got {shown!r}", None
    return None


def _dsn_problem(dsn: str, key: str = "postgres.dsn") -> Problem | None:
    if not dsn or "://" in dsn:
        return _url_problem(key, dsn, ("postgresql", "postgres"), need_host=False)
    if "=" not in dsn:
        return (
            key,
            f"{key} is neither a postgresql:// URL nor key=value pairs, got {redact(dsn)!r}",
            "e.g. postgresql://app@db:5432/app or 'host=db dbname=app user=app'",
        )
    return None


def _redis_problems(redis: Any) -> Iterator[Problem]:
    url = redis.url
    problem = _url_problem(
        "redis.url", url, ("redis", "rediss", "unix"), need_host=not url.startswith("unix:")
    )
    if problem:
        yield problem
        return
    limit = redis.databases
    hint = (
        f"Redis has databases 0..{limit - 1} ([redis] databases = {limit}, the server's `databases` setting)"
    )
    if url and not url.startswith("unix:"):
        parts = urlsplit(url)
        raw = (parse_qs(parts.query).get("db") or [parts.path.strip("/") or "0"])[0]
        if not raw.isdigit() or int(raw) >= limit:
            yield "redis.url", f"redis.url: db {raw!r} is out of range in {redact(url)!r}", hint
    for key in ("cache_db", "queue_db"):
        value = getattr(redis, key)
        if value is not None and value >= limit:
            yield f"redis.{key}", f"redis.{key} = {value} is out of range", hint


def _path_problems(http: Any) -> Iterator[Problem]:
    for key in ("health_path", "metrics_path"):
        value = getattr(http, key)
        if value and not value.startswith("/"):
            yield f"http.{key}", f"http.{key} must start with /, got {value!r}", None
    for ep in http.endpoint_list():
        if not ep.path.startswith("/"):
            yield (
                "http.endpoints",
                f"http.endpoints: {ep.path!r} must start with / (it goes after base_url)",
                None,
            )


def _threshold_problems(th: Any) -> Iterator[Problem]:
    bands = [
        ("severity_p0_s", th.severity_p0_s),
        ("severity_p1_s", th.severity_p1_s),
        ("severity_p2_s", th.severity_p2_s),
        ("severity_p3_s", th.severity_p3_s),
    ]
    for (hi_key, hi), (lo_key, lo) in zip(bands, bands[1:], strict=False):
        if not hi > lo:  # either key may be the one that was set: the first with a source is named
            yield (
                f"thresholds.{hi_key}|thresholds.{lo_key}",
                f"thresholds.{hi_key} ({hi:g}) must be more than {lo_key} ({lo:g})",
                "the severity bands go P0 > P1 > P2 > P3 (defaults 10, 5, 2, 1 s)",
            )


def meaning_problems(cfg: Any) -> list[Problem]:
    """Every problem of meaning in a type-checked Config, in the order a reader meets them."""
    found: list[Problem | None] = [
        _url_problem("http.base_url", cfg.http.base_url, ("http", "https")),
        _url_problem("frontend.url", cfg.frontend.url, ("http", "https")),
        _url_problem("websocket.url", cfg.websocket.url, ("ws", "wss")),
        _url_problem("prometheus.url", cfg.prometheus.url, ("http", "https")),
        _dsn_problem(cfg.postgres.dsn),
        _dsn_problem(cfg.pgbouncer.dsn, "pgbouncer.dsn"),
        _url_problem(
            "containers.engine",
            cfg.containers.engine,
            ("unix", "tcp", "http", "https", "ssh", "npipe"),
            need_host=False,
        ),
    ]
    found += [*_path_problems(cfg.http), *_redis_problems(cfg.redis), *_threshold_problems(cfg.thresholds)]
    return [p for p in found if p is not None]
