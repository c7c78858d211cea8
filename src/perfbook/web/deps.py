"""FastAPI dependencies shared by the routers: the context, and "this request may write" (who it is).

``writer`` is on every write route, API and page alike: it reads the Authorization header, or
the session cookie / a typed token plus the CSRF token of a form post, and returns the actor the
timeline and the audit log record (``X-Perfbook-Actor`` names a person behind an API client).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from perfbook.web.context import ServeContext, context
from perfbook.web.security import _ACTOR, CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE

Ctx = Annotated[ServeContext, Depends(context)]


async def writer(request: Request) -> str:
    """The actor of this write; 401 / 403 (a JSON or page error) when it may not write."""
    guard = request.app.state.serve.guard
    form_token = csrf = None
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette keeps it: the route reads the same form
        form_token = _text(form.get("token"))
        csrf = _text(form.get(CSRF_FIELD))
    actor = guard.check(
        authorization=request.headers.get("authorization"),
        session=request.cookies.get(SESSION_COOKIE),
        form_token=form_token,
        csrf_cookie=request.cookies.get(CSRF_COOKIE),
        csrf_given=csrf or request.headers.get(CSRF_HEADER),
    )
    named = request.headers.get("x-perfbook-actor", "").strip()
    return f"{named} (api)" if actor == "api" and named and _ACTOR.fullmatch(named) else actor


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


Actor = Annotated[str, Depends(writer)]
