"""Redact secrets in one place: DSN / URL passwords, tokens in query strings, and such in free text.

    >>> redact_url("postgresql://codexos:s3cret@db:5432/app?sslmode=require&password=x")
    'postgresql://codexos:***@db:5432/app?sslmode=require&password=***'
    >>> redact_text("connect to redis://:hunter2@cache:6379/0 failed")
    'connect to redis://:***@cache:6379/0 failed'
    >>> mask_query("/api/v1/users?email=ann@example.com&limit=5")
    '/api/v1/users?email=…&limit=…'
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]+)@")
_SECRET_PARAM = re.compile(r"(?i)(?P<key>\b(?:password|passwd|pwd|token|secret|api_key|apikey|access_token)=)[^&\s'\"]+")
_KV_PASSWORD = re.compile(r"(?i)(?P<key>\bpassword\s*=\s*)(?P<q>'?)[^'\s]+(?P=q)")

# apprise schemes whose host is a server, not a token: the host may be shown, the rest may not
_HOST_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "http", "https", "mailto", "mailtos"})
_SCHEME_HOST = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/\s]*@)?(?P<host>\[[^\]]*\]|[^/:?#\s]*)(?P<port>:\d+)?")

SECRET_KEYS = frozenset({"dsn", "url", "base_url", "engine", "password", "token", "admin_token"})


def redact_url(url: str) -> str:
    """A URL or DSN with its password and secret query parameters replaced by ``***``."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with any embedded credentials replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m['key']}***", text)
    return _KV_PASSWORD.sub(lambda m: f"{m['key']}***", text)


def mask_query(path_or_url: str) -> str:
    """A path or URL with its query values replaced by ``…``: they can hold e-mail addresses or tokens."""
    base, sep, query = path_or_url.partition("?")
    if not sep:
        return path_or_url
    keys = [part.partition("=")[0] for part in query.split("&") if part]
    return base + "?" + "&".join(f"{k}=…" for k in keys)


def redact_notify_url(url: str) -> str:
    """A notification (apprise) URL with anything that may be a secret hidden.

    Most services keep their tokens in the URL's host and path (``slack://T…/B…/C…``): only the
    scheme is shown. Web hooks and mail servers keep their host and port; their path, user,
    password and query are hidden.

    >>> redact_notify_url("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl/#general")
    'slack://***'
    >>> redact_notify_url("json://user:pw@hooks.example.com:8080/perfbook?token=x")
    'json://hooks.example.com:8080/***'
    """
    match = _SCHEME_HOST.match(url.strip())
    if match is None:
        return "***"
    scheme = match["scheme"].lower()
    if scheme not in _HOST_SCHEMES:
        return f"{scheme}://***"
    return f"{scheme}://{match['host']}{match['port'] or ''}/***"
