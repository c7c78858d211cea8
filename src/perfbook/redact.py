"""Redact secrets in one place: one pass, :func:`redact`, over every text perfbook shows or stores.

What it hides (the test table in ``tests/unit/test_redact.py`` has every form):

- URL userinfo: ``postgresql://app:***@db/app``, ``redis://:***@cache:6379/0``; a bare user of an
  http(s) / ws(s) / redis URL is a token more often than a name: ``https://***@host``;
- keyword DSN passwords, quoted or not: ``password=***``, ``password = ***`` (``'a b'``, ``'it''s'``);
- secret-looking ``name=value`` pairs (query parameters, env assignments, DSN keywords) whose name
  ends in password, passwd, secret, token, key, sig, signature, credential, auth, session …;
- ``Authorization`` / ``Cookie`` / ``X-Api-Key``-style headers, and ``Bearer`` tokens anywhere;
- command-line flags that carry a secret (``--token X``, ``--password=X``), as in ``[fix]
  restart_commands``; well-known token shapes (JWTs, GitHub, Slack and AWS access keys).

    >>> redact("postgresql://codexos:s3cret@db:5432/app?sslmode=require&password=x")
    'postgresql://codexos:***@db:5432/app?sslmode=require&password=***'
    >>> redact("connect to redis://:hunter2@cache:6379/0 failed")
    'connect to redis://:***@cache:6379/0 failed'
    >>> redact("host=db user=app password='a b' dbname=app")
    'host=db user=app password=*** dbname=app'
    >>> redact("curl -H 'Authorization: Bearer abc.def' --token=t0k http://h/x?api_key=k&n=1")
    "curl -H 'Authorization: ***' --token=*** http://h/x?api_key=***&n=1"
    >>> mask_query("/api/v1/users?email=ann@example.com&limit=5")
    '/api/v1/users?email=…&limit=…'

Output streams get the same pass as a safety net (:class:`perfbook.files.OutputStream`), files
and the audit store through :func:`redact_doc`; the values themselves are redacted where they are
built, so a line that Rich wraps in the middle of a URL never carries a secret either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MASK = "***"

# A value in quotes (libpq: '' or \' inside), or up to a separator of URLs, DSNs, JSON and shells.
_VALUE = r"""('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|[^\s&;#'",)\]}]+)"""
# Secret words a name may end in; the long ones after any prefix (PGPASSWORD), the short ones only
# whole or after a separator (api_key, x-amz-signature), so "monkey=" or "passage=" stay.
_LONG_WORDS = r"password|passwd|passphrase|secret|token"
_SHORT_WORDS = r"pwd|pass|key|apikey|sig|signature|credentials?|auth|session|sessionid|cookie"
_SECRET_NAME = rf"(?:[\w.-]*(?:{_LONG_WORDS})|(?:[\w.-]*[_.-])?(?:{_SHORT_WORDS}))"
_HEADERS = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|x-access-token"
)
_TOKEN_SCHEMES = frozenset({"http", "https", "ws", "wss", "redis", "rediss"})
_APPRISE_SCHEMES = (
    "slack|discord|msteams|tgram|pover|pushover|mmosts?|rockets?|twilio|gotifys?|ntfys?|matrixs?|"
    "signals?|sns|ses|opsgenie|pagerduty|pd|zulip|line|apprises?|ifttt|join|prowl|pbul|pushed|"
    "nexmo|vonage|whatsapp|webex|wxteams|flock|gchat|guilded|lark|mastodon|misskey|reddit|"
    "revolt|ryver|spike|spush|techulus|pagertree|splunk|victorops|dingtalk|feishu|wecombot"
)

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _userinfo(m: re.Match[str]) -> str:
    scheme, info = m["scheme"], m["info"]
    user, colon, _ = info.partition(":")
    if colon:
        return f"{scheme}{user}:{MASK}@"
    if scheme.rstrip(":/").lower() in _TOKEN_SCHEMES and info:
        return f"{scheme}{MASK}@"
    return m[0]


RULES: tuple[_Rule, ...] = (
    # Authorization: Bearer x / "Cookie": "a=b" / -H 'X-Api-Key: k' — the whole value, up to a quote
    (
        re.compile(
            rf"(?i)\b(?P<name>{_HEADERS})(?P<sep>[\"']?[ \t]*[:=][ \t]*[\"']?)(?!\*\*\*)[^\s\"'][^\"'\r\n]*"
        ),
        lambda m: f"{m['name']}{m['sep']}{MASK}",
    ),
    (
        re.compile(r"(?i)\b(?P<kind>bearer)\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{4,}"),
        lambda m: f"{m['kind']} {MASK}",
    ),
    # scheme://user:password@host — the last @ of the authority ends the userinfo
    (re.compile(r"(?i)(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<info>[^/?#\s'\"<>]*)@"), _userinfo),
    # password=x, password = 'a b', ?api_key=x&, PGPASSWORD=x, --token=x
    (
        re.compile(rf"(?i)(?<![\w.-])(?P<name>-{{0,2}}{_SECRET_NAME})(?P<eq>\s*=\s*){_VALUE}"),
        lambda m: f"{m['name']}{m['eq']}{MASK}",
    ),
    # "password": "x" in JSON / Python reprs (long words only: "key" names Redis keys in evidence;
    # a value with spaces is prose, e.g. "token": "read by Alertmanager from /etc/…")
    (
        re.compile(
            rf"(?i)(?P<q>[\"'])(?P<name>[\w.-]*(?:{_LONG_WORDS}|api_?key|access_?key|private_?key))(?P=q)"
            r"(?P<sep>\s*:\s*)(?P<v>\"(?:[^\"\\\s]|\\.)*\"|'(?:[^'\\\s]|\\.)*')"
        ),
        lambda m: (
            m[0]
            if m["v"][1:-1] in ("", MASK)
            else f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['v'][0]}{MASK}{m['v'][0]}"
        ),
    ),
    # YAML / INI lines: `  credentials: abc`, `password: x` (a line's own key, so prose is rarely hit)
    (
        re.compile(
            rf"(?im)^(?P<key>[ \t-]*[\w.-]*(?:{_LONG_WORDS}|credentials|api_?key|access_?key|private_?key)"
            r"[ \t]*:[ \t]+)(?![*{\[|>&!])(?P<v>[^\s#][^\r\n]*?)[ \t]*$"
        ),
        lambda m: f"{m['key']}{MASK}",
    ),
    # --token X, -password 'a b' (a secret flag and its separate value)
    (
        re.compile(
            rf"(?i)(?<![\w-])(?P<flag>--?[\w-]*(?:{_LONG_WORDS}|api-?key|access-key|credentials?|auth))"
            rf"(?P<sp>\s+){_VALUE}"
        ),
        lambda m: m[0] if m[3].startswith("-") else f"{m['flag']}{m['sp']}{MASK}",
    ),
    # apprise service URLs keep their tokens in host and path (slack://T…/B…/C…): only the scheme shows
    (
        re.compile(rf"(?i)\b(?P<scheme>{_APPRISE_SCHEMES})://(?!\*\*\*)[^\s'\"<>]+"),
        lambda m: f"{m['scheme']}://{MASK}",
    ),
    # token shapes that are secrets wherever they appear
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), lambda m: MASK),
    (
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
            r"|AKIA[0-9A-Z]{16})\b"
        ),
        lambda m: MASK,
    ),
)


def redact(text: str) -> str:
    """``text`` with every credential form in :data:`RULES` replaced by ``***``."""
    if not text:
        return text
    for pattern, replace in RULES:
        text = pattern.sub(replace, text)
    return text


# apprise schemes whose host is a server, not a token: the host may be shown, the rest may not
_HOST_SCHEMES = frozenset(
    {"json", "jsons", "xml", "xmls", "form", "forms", "http", "https", "mailto", "mailtos"}
)
_SCHEME_HOST = re.compile(
    r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/\s]*@)?(?P<host>\[[^\]]*\]|[^/:?#\s]*)(?P<port>:\d+)?"
)


def redact_url(url: str) -> str:
    """A URL or DSN with its password and secret query parameters replaced by ``***``."""
    return redact(url)


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with any embedded credentials replaced by ``***``."""
    return redact(text)


def redact_doc(value: Any) -> Any:
    """A JSON-like document with :func:`redact` applied to every string in it (keys too).

    >>> redact_doc({"dsn": "postgresql://u:pw@h/db", "n": [1, "token=abc"]})
    {'dsn': 'postgresql://u:***@h/db', 'n': [1, 'token=***']}
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_doc(k): redact_doc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_doc(v) for v in value)
    return value


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
