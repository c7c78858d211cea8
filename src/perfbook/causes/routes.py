"""Matching an HTTP route to the tables and statements behind it (pure, by names only).

A route names its resource (``/api/v1/users/{id}`` → ``users``), a statement names its tables
(``public.users``), and where the application passes it a statement or a session names its route
(a ``/* GET /api/v1/users */`` comment, or ``application_name``). These helpers make those joins.

    >>> route_names_table("/api/v1/users/{id}", "public.users")
    True
    >>> route_names_table("/api/v1/agents", "public.users")
    False
"""

from __future__ import annotations

import re

_SKIP_WORDS = frozenset({"api", "rest", "public", "internal", "v", "search", "list"})
_VERSION = re.compile(r"^v\d+(\.\d+)*$")
_TEMPLATE = re.compile(r"^(\{.*\}|<.*>|:.+|\d+|[0-9a-f-]{16,})$", re.I)


def route_words(endpoint: str) -> list[str]:
    """The literal resource words of a route, query string and templates left out.

    >>> route_words("/api/v1/user-profiles/{id}?email=x")
    ['user_profiles', 'user', 'profiles']
    """
    path = endpoint.split("?", 1)[0].lower()
    words: list[str] = []
    for seg in path.split("/"):
        if not seg or _VERSION.match(seg) or _TEMPLATE.match(seg) or seg in _SKIP_WORDS:
            continue
        joined = re.sub(r"[-.]", "_", seg)
        words.append(joined)
        words += [w for w in joined.split("_") if w and w not in words and w != joined]
    return words


def singular(word: str) -> str:
    """A crude singular, enough to match ``users`` / ``user`` and ``categories`` / ``category``."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def bare_table(table: str) -> str:
    """``public.users`` → ``users`` (quotes dropped, lower-cased)."""
    return table.replace('"', "").split(".")[-1].lower()


def same_table(a: str, b: str) -> bool:
    """True when two table names are the same table (one may lack its schema)."""
    a, b = a.replace('"', "").lower(), b.replace('"', "").lower()
    if a == b:
        return True
    if "." in a and "." in b:
        return False
    return bare_table(a) == bare_table(b)


def route_names_table(endpoint: str, table: str) -> bool:
    """True when one of the route's resource words is the table's name (singular or plural)."""
    name = singular(bare_table(table))
    return any(singular(w) == name for w in route_words(endpoint))


def route_in_text(endpoint: str, text: str | None) -> bool:
    """True when ``text`` (a statement's comment, an application_name) names the route's path."""
    if not text:
        return False
    path = endpoint.split("?", 1)[0].rstrip("/").lower()
    return len(path) > 1 and path in text.lower()


def query_params(endpoint: str) -> set[str]:
    """The parameter names of an endpoint's query string: ``/users?email=x&limit=5`` → {email, limit}."""
    query = endpoint.partition("?")[2]
    return {part.split("=", 1)[0] for part in query.split("&") if part}


def param_name(column: str) -> str:
    """The query parameter a person would type for a filter column: ``lower(email)`` → ``email``."""
    inner = re.sub(r"^\w+\((.*)\)$", r"\1", column.strip())
    return inner.split(".")[-1].strip('"') or column


def search_phrase(columns: list[str]) -> str:
    """``['email']`` → ``e-mail search``; ``['owner_id', 'status']`` → ``search by owner_id, status``."""
    names = [param_name(c) for c in columns]
    if len(names) == 1:
        friendly = {"email": "e-mail", "mail": "e-mail", "name": "name", "username": "user-name"}.get(
            names[0]
        )
        if friendly:
            return f"{friendly} search"
    return "search by " + ", ".join(names) if names else "reading it"
