"""Make query text, SLOWLOG arguments and key names safe to show, and read simple facts from SQL.

Query text can carry passwords and personal data (docs/report-schema.md): every SQL text
perfbook shows goes through :func:`display_sql`, every Redis key or argument through
:func:`display_key`. Pure functions, no I/O.

    >>> display_sql("ALTER ROLE app PASSWORD 'hunter2' /* x */")
    'ALTER ROLE app PASSWORD ?'
    >>> display_sql("select * from users where email = 'ann@example.com' and id = 42")
    'select * from users where email = ? and id = ?'
    >>> display_key("session:ann@example.com:8f1b2c3d4e5f60718293a4b5c6d7e8f9", max_chars=24)
    'session:<email>:8f1b2c3…'
"""

from __future__ import annotations

import re

SQL_MAX_CHARS = 300
KEY_MAX_CHARS = 40

# Order matters: comments and quoted literals first, so digits inside them never match twice.
_SQL_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_DOLLAR_QUOTED = re.compile(r"\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?\$(?P=tag)?\$", re.S)
_STRING = re.compile(r"(?:[EeBbXxNn]|[Uu]&)?'(?:[^']|'')*'?")
_NUMBER = re.compile(r"(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w$])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPACES = re.compile(r"\s+")

_TABLE_REF = re.compile(
    r"\b(?:from|join|update|into)\s+(?:only\s+)?((?:\"?[A-Za-z_][\w$]*\"?\.)?\"?[A-Za-z_][\w$]*\"?)(?![\w$\"]|\s*\()",
    re.I,
)
# `col = $1`, `t.col = $1`, `lower(col) = $1`, `col LIKE $1`, `col ILIKE lower($1)`, `col IN ($1, …)`
_PREDICATE = re.compile(
    r"(?P<fn>\blower\s*\(\s*)?(?:\"?[A-Za-z_]\w*\"?\.)?\"?(?P<col>[A-Za-z_]\w*)\"?\s*\)?\s*"
    r"(?P<op>=|\blike\b|\bilike\b|\bin\b)\s*\(?\s*(?:lower\s*\(\s*)?(?:\$\d+|\?)",
    re.I,
)
_WHERE = re.compile(r"\bwhere\b", re.I)
_SQL_WORDS = frozenset({"select", "where", "and", "or", "not", "on", "set", "values", "limit", "offset"})


def strip_literals(sql: str) -> str:
    """SQL with comments removed and every string, dollar-quoted and numeric literal as ``?``."""
    text = _SQL_COMMENT.sub(" ", sql)
    text = _DOLLAR_QUOTED.sub("?", text)
    text = _STRING.sub("?", text)
    text = _NUMBER.sub("?", text)
    return _SPACES.sub(" ", text).strip()


def display_sql(sql: str | None, max_chars: int = SQL_MAX_CHARS) -> str:
    """Query text safe to show: literals stripped, e-mail addresses masked, one line, truncated."""
    if not sql:
        return ""
    text = _EMAIL.sub("<email>", strip_literals(sql))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def display_key(key: str | bytes, max_chars: int = KEY_MAX_CHARS) -> str:
    """A Redis key name or argument safe to show: e-mail addresses masked, truncated."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", errors="replace")
    text = _EMAIL.sub("<email>", key.replace("\n", " "))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def key_prefix(key: str) -> str:
    """The namespace of a key for a SCAN pattern: ``user:42:profile`` -> ``user:*``.

    >>> key_prefix("user:42:profile"), key_prefix("plainkey")
    ('user:*', 'plainkey')
    """
    for sep in (":", "/", "."):
        if sep in key:
            return key.split(sep, 1)[0] + sep + "*"
    return key


def referenced_tables(sql: str) -> list[str]:
    """Tables named after FROM / JOIN / UPDATE / INTO, lower-cased, in order, without repeats.

    >>> referenced_tables("SELECT * FROM public.users u JOIN orders o ON o.uid = u.id")
    ['public.users', 'orders']
    >>> referenced_tables("INSERT INTO t SELECT g FROM generate_series($1, $2) g")
    ['t']
    """
    found: list[str] = []
    for match in _TABLE_REF.finditer(_SQL_COMMENT.sub(" ", sql)):
        name = match.group(1).replace('"', "").lower()
        if name.split(".")[-1] not in _SQL_WORDS and name not in found:
            found.append(name)
    return found


def filter_columns(sql: str) -> list[str]:
    """Columns compared to a parameter in the WHERE clause: ``col = $1``, ``lower(col) =``, ``LIKE``.

    ``lower(col)`` comes back as ``lower(col)`` (the index it needs is on that expression).

    >>> filter_columns("SELECT id FROM users WHERE lower(email) = lower($1) AND u.status LIKE $2")
    ['lower(email)', 'status']
    """
    where = _WHERE.search(sql)
    if where is None:
        return []
    columns: list[str] = []
    for match in _PREDICATE.finditer(sql, where.end()):
        col = match.group("col").lower()
        if col in _SQL_WORDS:
            continue
        name = f"lower({col})" if match.group("fn") else col
        if name not in columns:
            columns.append(name)
    return columns
