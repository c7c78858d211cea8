"""Pages from templates (``perfbook/templates/web/``): one environment, the CSRF cookie, the security headers.

Every page gets ``csrf`` (the token its forms carry), ``actor`` (who is signed in, if anyone),
``writable`` (the server has a write token) and ``lab`` (the Lab page exists), so the layout can
show the sign-in box and the navigation without each route passing them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from perfbook import __version__
from perfbook.web.security import CSRF_COOKIE, SESSION_COOKIE

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
NAV = (
    ("/", "Overview"),
    ("/triage", "Triage"),
    ("/incidents", "Incidents"),
    ("/fixes", "Fixes"),
    ("/load", "Load runs"),
)

_ENV: Any = None


def environment() -> Any:
    """The shipped templates with perfbook's filters (built once: templates do not change at run time)."""
    global _ENV
    if _ENV is None:
        import jinja2

        from perfbook.templating import environment as shipped

        _ENV = shipped("")
        _ENV.auto_reload = False  # the shipped templates: no stat() of each file on every page
        # a page shows "" for a field a stored document lacks (an older report), never a 500
        _ENV.undefined = jinja2.ChainableUndefined
    return _ENV


def csrf_of(request: Request) -> str:
    """This browser's CSRF token: the cookie it has, or a new one (set on the response by :func:`page`)."""
    ctx = request.app.state.serve
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and ctx.guard.csrf_ok(existing, existing):
        return existing
    if not hasattr(request.state, "new_csrf"):
        request.state.new_csrf = ctx.guard.new_csrf()
    return request.state.new_csrf


def html(request: Request, name: str, context: dict[str, Any]) -> str:
    """Template ``web/NAME`` rendered with the layout's variables."""
    ctx = request.app.state.serve
    nav = NAV + ((("/lab", "Lab"),) if ctx.lab is not None else ())
    base = {
        "request_path": request.url.path,
        "csrf": csrf_of(request),
        "writable": ctx.guard.writable,
        "actor": ctx.guard.session_actor(request.cookies.get(SESSION_COOKIE)),
        "nav": nav,
        "lab": ctx.lab is not None,
        "version": __version__,
        "refresh_s": ctx.refresh_s,
        "now": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return environment().get_template(f"web/{name}").render(**base, **context)


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page response: the rendered template, with this browser's CSRF cookie when it had none."""
    response = HTMLResponse(html(request, name, context), status_code=status_code)
    set_csrf_cookie(request, response)
    return response


def set_csrf_cookie(request: Request, response: Any) -> None:
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")


def error_page(request: Request, body: dict[str, Any]) -> str:
    """An error as a page (same words as the JSON)."""
    try:
        return html(request, "error.html.j2", {"problem": body})
    except Exception:  # noqa: BLE001 - the error page must never fail in turn
        return f"<!doctype html><title>{body['status']}</title><p>{body['status']} {body['error']}</p>"
