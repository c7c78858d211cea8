"""Errors as a user of the API or the pages should see them: the right 4xx with a reason, never a traceback.

perfbook's own errors map by class (an unknown id is 404, a change the state refuses 409, a bad
value 400, an external text naming internals 422, no token 401, writes off or a bad CSRF token
403). The API and anything that does not ask for HTML get JSON, ``{"status", "error", "reason",
"hint"}``; a page gets the same words as a page. A bug is a 500 that names the exception type
only: the traceback goes to the server's log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from perfbook.errors import ConfigError, ConflictError, NotFoundError, PerfbookError, StoreError, UsageError
from perfbook.notify.public import LeakError
from perfbook.redact import redact_text
from perfbook.web.security import Forbidden, Unauthorized

log = logging.getLogger("perfbook.serve")

# most specific first: NotFoundError and ConflictError are UsageErrors
STATUS = (
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (LeakError, 422),
    (UsageError, 400),
    (ConfigError, 400),
    (StoreError, 503),
)
WORDS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "payload too large",
    422: "unprocessable",
    429: "too many requests",
    500: "internal error",
    502: "bad gateway",
    503: "unavailable",
}


class TooBusy(PerfbookError):
    """A bounded action already runs (HTTP 429): a second triage would only add load to the stack."""


def status_of(err: PerfbookError) -> int:
    """The HTTP status of one of perfbook's errors."""
    if isinstance(err, TooBusy):
        return 429
    return next((code for cls, code in STATUS if isinstance(err, cls)), 502)


def error_body(status: int, reason: str, hint: str | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "error": WORDS.get(status, "error"),
        "reason": redact_text(reason),
        "hint": hint,
    }


def wants_html(request: Request) -> bool:
    """A page, not the API: the browser asks for HTML and the path is not under /api/ or /hooks/."""
    path = request.url.path
    return not path.startswith(("/api/", "/hooks/")) and "text/html" in request.headers.get("accept", "")


def respond(
    request: Request, status: int, reason: str, hint: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = error_body(status, reason, hint)
    if wants_html(request):
        from perfbook.web.render import error_page

        return HTMLResponse(error_page(request, body), status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(PerfbookError)
    async def perfbook_error(request: Request, err: PerfbookError) -> Response:
        status = status_of(err)
        headers = {"WWW-Authenticate": 'Bearer realm="perfbook"'} if status == 401 else None
        headers = {"Retry-After": "5"} if status == 429 else headers
        return respond(request, status, str(err), err.hint, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        problems = []
        for e in err.errors()[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
        return respond(request, 422, "; ".join(problems) or "invalid request")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        reason = err.detail if isinstance(err.detail, str) else WORDS.get(err.status_code, "error")
        return respond(request, err.status_code, reason, headers=getattr(err, "headers", None))


def bug_response(request: Request, err: Exception) -> Response:
    """A bug: logged with its traceback on the server, a 500 naming only the exception type to the client."""
    log.error("serve: %s %s failed", request.method, request.url.path, exc_info=err)
    return respond(request, 500, f"perfbook failed: {type(err).__name__} (the server's log has the details)")
