"""The ``public_text`` guard: what external readers see names no internals (pure).

External texts (the status page, the customer notice, external channels) say what users
experience in plain words. :func:`find_leaks` scans a rendered text for what must never reach
them — table names, query text, hostnames, IP addresses, pids, DSNs / connection URLs and finding
codes — by generic patterns plus the concrete names an incident's own evidence holds
(:func:`internals_of`). :func:`public_text` returns the text when clean and raises otherwise.

    >>> sorted({leak.kind for leak in find_leaks("slow: SELECT id FROM users WHERE email = $1 on 10.0.0.7")})
    ['ip', 'query']
    >>> public_text("Some pages of our service load slowly since 10:04 UTC.")
    'Some pages of our service load slowly since 10:04 UTC.'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from perfbook.codes import CODES
from perfbook.errors import PerfbookError
from perfbook.exit_codes import ExitCode

KINDS = ("table", "query", "hostname", "ip", "pid", "dsn", "code")

_CODE_PREFIXES = sorted({c.split(".")[0] for c in CODES} | {"manual", "engine"})
_CODE = re.compile(rf"\b(?:{'|'.join(_CODE_PREFIXES)})\.[a-z][a-z_]+\b")
_QUERY = re.compile(
    r"\b(?:SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\b[^\n]{0,200}?\b(?:FROM|SET|VALUES|WHERE)\b"
    r"|\bWHERE\b[^\n]{0,80}?=\s*\$\d|\bpg_stat_\w+|\bEXPLAIN\s*\("
)
_SQL_IDENT = r"(?:\bFROM|\bJOIN|\bINTO|\bUPDATE|\btable)\s+[\"`]?{name}\b|[\"`']{name}[\"`']"
_QUALIFIED = re.compile(r"\b(?:public|pg_catalog|information_schema)\.[A-Za-z_]\w*\b")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"')]+")
_DSN_SCHEMES = (
    "postgres",
    "postgresql",
    "redis",
    "rediss",
    "mysql",
    "mariadb",
    "mongodb",
    "amqp",
    "sqlite",
    "ws",
    "wss",
    "unix",
    "tcp",
    "jdbc",
)
_KV_DSN = re.compile(r"\b(?:host|dbname|user|password|port)=\S+\s+(?:host|dbname|user|password|port)=")
_PID = re.compile(r"\bpids?\s*[:=#]?\s*\d+\b|\b[\w.-]+\[\d{2,}\]|\bprocess\s+\d{2,}\b", re.IGNORECASE)
_IP_CANDIDATE = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])"
)
_HOST_WORDS = re.compile(
    r"\blocalhost\b|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:internal|local|lan|corp|intranet)\b"
)


@dataclass(frozen=True)
class Leak:
    """One internal detail found in an external text."""

    kind: str  # one of KINDS
    text: str  # what was found, as written


@dataclass(frozen=True)
class Internals:
    """Concrete internal names an incident's evidence holds (tables, queries, hosts, pids)."""

    tables: frozenset[str] = field(default_factory=frozenset)  # "public.users", "users", "codexos_db"
    queries: frozenset[str] = field(default_factory=frozenset)  # normalised statements
    hosts: frozenset[str] = field(default_factory=frozenset)  # "db.internal", "web-1", container names
    pids: frozenset[int] = field(default_factory=frozenset)


class LeakError(PerfbookError):
    """An external text names internals (exit 2: the text must be rewritten, nothing was sent)."""

    exit_code = ExitCode.USAGE


def find_leaks(text: str, internals: Internals = Internals()) -> list[Leak]:
    """Every internal detail in ``text``, in the order of :data:`KINDS`."""
    found: list[Leak] = []
    found += [Leak("table", m) for m in _tables(text, internals.tables)]
    found += [Leak("query", m.group(0)) for m in _QUERY.finditer(text)]
    found += [Leak("query", q[:40]) for q in internals.queries if len(q) >= 12 and q[:40] in text]
    found += [Leak("hostname", h) for h in _hosts(text, internals.hosts)]
    found += [Leak("ip", m.group(0)) for m in _IP_CANDIDATE.finditer(text) if _is_ip(m.group(0))]
    found += [Leak("pid", m.group(0)) for m in _PID.finditer(text)]
    found += [Leak("pid", str(p)) for p in internals.pids if re.search(rf"\b{p}\b", text)]
    found += [Leak("dsn", u) for u in _dsns(text)]
    found += [Leak("code", m.group(0)) for m in _CODE.finditer(text)]
    return _unique(found)


def public_text(text: str, internals: Internals = Internals(), *, what: str = "external text") -> str:
    """``text`` when it names no internals; else :class:`LeakError` listing what it names."""
    leaks = find_leaks(text, internals)
    if leaks:
        shown = "; ".join(f"{leak.kind} {leak.text!r}" for leak in leaks[:5])
        raise LeakError(
            f"{what} names internals external readers must not see: {shown}",
            hint="write it in plain words (what users experience), or send it only to internal channels",
        )
    return text


def internals_of(documents: Iterable[dict[str, Any]]) -> Internals:
    """The tables, statements, hosts and pids named in triage reports (and other perfbook documents)."""
    tables: set[str] = set()
    queries: set[str] = set()
    hosts: set[str] = set()
    pids: set[int] = set()
    for doc in documents:
        target = doc.get("target")  # a triage names each layer's target; a load run its one URL
        for url in target.values() if isinstance(target, dict) else [target]:
            if isinstance(url, str) and "://" in url:
                hosts.add(urlsplit(url).hostname or "")
        for f in doc.get("findings") or []:
            _from_finding(f, tables, queries, hosts, pids)
        # the rest (each probe's evidence, a fix's plan, a load run's figures): named or not in a finding
        _walk({k: v for k, v in doc.items() if k not in ("findings", "target")}, tables, queries, hosts, pids)
    hosts.discard("")
    return Internals(frozenset(tables), frozenset(queries), frozenset(hosts), frozenset(pids))


def _from_finding(
    f: dict[str, Any], tables: set[str], queries: set[str], hosts: set[str], pids: set[int]
) -> None:
    code, subject = str(f.get("code", "")), str(f.get("subject") or "")
    layer = code.split(".")[0]
    if layer == "pg" and subject:
        tables.update({subject, subject.rsplit(".", 1)[-1]})
    elif layer in ("host", "container") and subject:
        hosts.add(subject)
    elif layer == "process":
        pids.update(int(p) for p in re.findall(r"\[(\d+)\]", subject))
    _walk(f.get("evidence"), tables, queries, hosts, pids)


def _walk(value: Any, tables: set[str], queries: set[str], hosts: set[str], pids: set[int]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "query" and isinstance(item, str):
                queries.add(item)
            elif key in ("tables", "table", "relname", "database", "indexes", "top_tables_by_size") and item:
                names = _names(item)
                tables.update(names + [n.rsplit(".", 1)[-1] for n in names])
                _walk(item, tables, queries, hosts, pids)
            elif key in ("dsn", "url", "base_url") and isinstance(item, str) and "://" in item:
                hosts.add(urlsplit(item).hostname or "")
            elif key in ("pid", "blocking_pid") and isinstance(item, int):
                pids.add(item)
            elif key in ("container", "hostname", "host") and isinstance(item, str) and item:
                hosts.add(item)
            elif key == "process" and isinstance(item, str):
                pids.update(int(p) for p in re.findall(r"\[(\d+)\]", item))
            else:
                _walk(item, tables, queries, hosts, pids)
    elif isinstance(value, list):
        for item in value:
            _walk(item, tables, queries, hosts, pids)


def _names(item: Any) -> list[str]:
    """Table / index names from a name, a list of names, or a list of rows with a ``name``."""
    if isinstance(item, str):
        return [item]
    if isinstance(item, list):
        return [
            t if isinstance(t, str) else str(t["name"])
            for t in item
            if isinstance(t, str) or (isinstance(t, dict) and isinstance(t.get("name"), str))
        ]
    return []


def _tables(text: str, names: Iterable[str]) -> list[str]:
    hits = [m.group(0) for m in _QUALIFIED.finditer(text)]
    for name in sorted(names):
        if "." in name or "_" in name:  # a qualified or snake_case name is never a plain word
            if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text):
                hits.append(name)
        elif re.search(_SQL_IDENT.format(name=re.escape(name)), text):  # "users" only where SQL names it
            hits.append(name)
    return hits


def _hosts(text: str, names: Iterable[str]) -> list[str]:
    hits = [m.group(0) for m in _HOST_WORDS.finditer(text)]
    # case-sensitive: a host "web" must not flag a component called "Web app"
    hits += [
        h
        for h in sorted(names)
        if len(h) >= 2 and not _is_ip(h) and re.search(rf"(?<![\w.-]){re.escape(h)}(?![\w-])", text)
    ]
    return hits


def _dsns(text: str) -> list[str]:
    hits = []
    for m in _URL.finditer(text):
        url = m.group(0)
        scheme = url.split("://", 1)[0].lower()
        if scheme in _DSN_SCHEMES or "@" in url.split("://", 1)[1].split("/", 1)[0]:
            hits.append(url)
    return hits + [m.group(0) for m in _KV_DSN.finditer(text)]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _unique(leaks: Sequence[Leak]) -> list[Leak]:
    seen: set[tuple[str, str]] = set()
    out = []
    for leak in leaks:
        if (leak.kind, leak.text) not in seen:
            seen.add((leak.kind, leak.text))
            out.append(leak)
    return out
