"""Who may write, and proof that a form came from our own page (no I/O but the clock).

Reads need nothing. A write needs the token (``PERFBOOK_SERVE_TOKEN``): an API client sends it as
``Authorization: Bearer TOKEN``; a browser enters it once on the sign-in form, and gets a session
cookie (HttpOnly, SameSite=Strict, 12 h) that is an HMAC keyed by the token, so changing the token
ends every session. A form post also carries a CSRF token (double submit: the same signed nonce in
a cookie and in the form), checked whenever the request's credentials come from a cookie or a
form. With no token configured, every write is refused: the server is read-only.

    guard = Guard(token="s3cret")
    guard.check(authorization="Bearer s3cret")          # -> "api"
    cookie = guard.session_cookie("ana"); guard.session_actor(cookie)   # -> "ana"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from perfbook.errors import PerfbookError

SESSION_COOKIE = "perfbook_session"
CSRF_COOKIE = "perfbook_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_S = 12 * 3600
_ACTOR = re.compile(r"[\w.@ -]{1,64}")


class Unauthorized(PerfbookError):
    """No valid write token (HTTP 401)."""


class Forbidden(PerfbookError):
    """Writes are off, or the CSRF token is wrong (HTTP 403)."""


@dataclass
class Guard:
    """The write token and the keys derived from it."""

    token: str | None
    clock: Callable[[], float] = time.time
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.token = self.token or None
        seed = self.token.encode() if self.token else secrets.token_bytes(32)  # no token: nothing to sign for
        self._key = hashlib.sha256(b"perfbook-serve-v1:" + seed).digest()

    @property
    def writable(self) -> bool:
        return self.token is not None

    def _sign(self, text: str) -> str:
        return base64.urlsafe_b64encode(
            hmac.new(self._key, text.encode(), hashlib.sha256).digest()[:18]
        ).decode()

    def token_ok(self, given: str | None) -> bool:
        """``given`` is the write token (compared in constant time)."""
        return (
            self.token is not None
            and given is not None
            and hmac.compare_digest(given.encode(), self.token.encode())
        )

    def check(
        self,
        *,
        authorization: str | None = None,
        session: str | None = None,
        form_token: str | None = None,
        csrf_cookie: str | None = None,
        csrf_given: str | None = None,
    ) -> str:
        """The actor of a write, or Unauthorized / Forbidden saying why it is refused.

        A Bearer header is enough (a cross-site page cannot send one); a session cookie or a
        token typed into a form also needs the page's CSRF token.
        """
        if not self.writable:
            raise Forbidden(
                "writes are off: this server has no write token",
                hint="start perfbook serve with PERFBOOK_SERVE_TOKEN set to allow writes",
            )
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not self.token_ok(value.strip()):
                raise Unauthorized(
                    "the Authorization header does not carry the write token",
                    hint="send Authorization: Bearer $PERFBOOK_SERVE_TOKEN",
                )
            return "api"
        actor = self.session_actor(session) if session else None
        if actor is None and not form_token:
            raise Unauthorized(
                "this write needs the write token",
                hint="send Authorization: Bearer $PERFBOOK_SERVE_TOKEN, or sign in on the page",
            )
        if not self.csrf_ok(csrf_cookie, csrf_given):
            raise Forbidden(
                "the form's CSRF token does not match this browser's",
                hint="reload the page and submit the form again",
            )
        if actor is not None and not form_token:
            return actor
        if not self.token_ok(form_token):
            raise Unauthorized("the token entered is not the write token")
        return actor or "web"

    def new_csrf(self) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._sign('csrf:' + nonce)}"

    def csrf_ok(self, cookie: str | None, given: str | None) -> bool:
        """The form's CSRF token is this browser's cookie, and one this server signed."""
        if not cookie or not given or not hmac.compare_digest(cookie.encode(), given.encode()):
            return False
        nonce, _, sig = cookie.partition(".")
        return hmac.compare_digest(sig.encode(), self._sign("csrf:" + nonce).encode())

    def session_cookie(self, actor: str) -> str:
        """A session for ``actor`` (a name shown on the timeline), valid for 12 h."""
        if not _ACTOR.fullmatch(actor):
            raise PerfbookError("a name is 1-64 letters, digits, spaces or . @ - _")
        expires = int(self.clock()) + SESSION_S
        body = base64.urlsafe_b64encode(f"{expires}:{actor}".encode()).decode()
        return f"{body}.{self._sign('session:' + body)}"

    def session_actor(self, cookie: str | None) -> str | None:
        """Who the session cookie is for; None when it is missing, forged, expired, or writes are off."""
        if not cookie or not self.writable:
            return None
        body, _, sig = cookie.partition(".")
        if not hmac.compare_digest(sig.encode(), self._sign("session:" + body).encode()):
            return None
        try:
            expires, _, actor = base64.urlsafe_b64decode(body.encode()).decode().partition(":")
            return actor if int(expires) > self.clock() else None
        except (ValueError, UnicodeDecodeError):
            return None
