"""Which route of the service serves a configured endpoint: route templates matched segment by segment. Pure.

The app's metrics label a request by its route (``/users/{id}`` in FastAPI, ``<int:id>`` in Flask,
``:id`` in Express, ``#val`` where express-prom-bundle normalised a value away), perfbook's
configured endpoints are concrete paths, often with a query string (``/users/42``,
``/api/orders?email=…``). Matching them makes each route one subject with both sources.

    >>> route_for("/api/orders?email=…", ["/api/orders", "/api/orders/{id}"])
    '/api/orders'
    >>> route_for("/api/items/42", ["/api/items/#val", "/health"])
    '/api/items/#val'
    >>> route_for("/api/users/me", ["/api/users/{id}", "/api/users/me"])
    '/api/users/me'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# One segment of a route template: {id} {id:int} <int:id> <id> :id #val *
_ONE = re.compile(r"^(\{[^{}/]+\}|<[^<>/]+>|:[A-Za-z_][\w-]*\??|#\w+|\*)$")
# A template for the rest of the path: {path:path} <path:p> ** *rest
_REST = re.compile(r"^(\{[^{}/]+:path\}|<path:[^<>/]+>|\*\*|\*\w+)$")


def path_only(endpoint: str) -> str:
    """The path of an endpoint, query string and trailing slash left out.

    >>> path_only("/api/orders/?email=x"), path_only("/")
    ('/api/orders', '/')
    """
    return endpoint.split("?", 1)[0].rstrip("/") or "/"


def _segments(path: str) -> list[str]:
    return [s for s in path_only(path).split("/") if s]


def route_matches(route: str, path: str) -> bool:
    """True when a concrete ``path`` is served by ``route`` (a template or a literal path).

    >>> route_matches("/api/v1/users/{user_id}", "/api/v1/users/42"), route_matches(
    ...     "/api/v1/users", "/api/v1/users?x=1")
    (True, True)
    >>> route_matches("/orders/<int:order_id>", "/orders/7"), route_matches("/orders/:id", "/orders")
    (True, False)
    >>> route_matches("/static/{p:path}", "/static/css/site.css")
    True
    """
    want, have = _segments(route), _segments(path)
    for i, seg in enumerate(want):
        if _REST.match(seg):
            return len(have) > i
        if i >= len(have) or not (_ONE.match(seg) or seg == have[i]):
            return False
    return len(want) == len(have)


def literal_segments(route: str) -> int:
    """How many segments of ``route`` are literal words (the more, the more specific)."""
    return sum(1 for s in _segments(route) if not (_ONE.match(s) or _REST.match(s)))


def route_for(endpoint: str, routes: Iterable[str]) -> str | None:
    """The route of ``routes`` that serves ``endpoint``, the most specific when several do; None
    when none does. An exact path match always wins."""
    path = path_only(endpoint)
    matching = [r for r in routes if route_matches(r, path)]
    if not matching:
        return None
    return max(matching, key=lambda r: (path_only(r) == path, literal_segments(r), -len(r)))
