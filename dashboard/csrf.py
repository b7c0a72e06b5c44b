"""CSRF protection: a per-session token in a cookie, echoed by every state-changing request.

The middleware gives each browser a random token (cookie ``ca_csrf``) and exposes it to
templates; forms carry it in a hidden ``csrf_token`` field and HTMX sends it in the
``X-CSRF-Token`` header (``hx-headers`` on <body>). :func:`require_csrf` rejects a
POST/PUT/PATCH/DELETE whose token does not match the cookie.

JSON API calls are also accepted with a JSON body or a bearer token: a browser cannot send
either cross-site without a CORS preflight, which this app never grants.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie

from fastapi import HTTPException, Request
from starlette.types import Scope

from dashboard.asgi import HeaderValue, ResponseHeaderMiddleware

COOKIE = "ca_csrf"
HEADER = "x-csrf-token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def _valid_shape(token: str) -> bool:
    return len(token) == TOKEN_LENGTH and all(c.isalnum() or c in "-_" for c in token)


class CSRFCookieMiddleware(ResponseHeaderMiddleware):
    """Gives every browser a CSRF token cookie and puts the token on ``request.state``."""

    header = b"set-cookie"

    def start(self, scope: Scope) -> HeaderValue:
        token = _cookie_from_scope(scope)
        new = not _valid_shape(token)
        if new:
            token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token
        cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"
        if scope.get("scheme") == "https":
            cookie += "; Secure"
        return lambda: cookie.encode() if new else None


def _cookie_from_scope(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header just means "no token yet"
                return ""
            morsel = jar.get(COOKIE)
            return morsel.value if morsel else ""
    return ""


async def require_csrf(request: Request) -> None:
    """Dependency: a state-changing request must prove it comes from our own pages."""
    if request.method in SAFE_METHODS:
        return
    if request.url.path.startswith(("/api/", "/v1/")):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            return
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return
    expected = request.cookies.get(COOKIE, "")
    sent = request.headers.get(HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD)
            sent = value if isinstance(value, str) else ""
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise HTTPException(
            status_code=403,
            detail="This form has expired or did not come from this dashboard "
            "(missing CSRF token). Reload the page and try again.",
        )
