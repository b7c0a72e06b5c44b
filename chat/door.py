"""The chat's door: the dashboard's access token and login, origins, CSRF, framing.

One ASGI middleware in front of everything the chat serves, Gradio's pages and API
included (Gradio is mounted inside; nothing of Gradio is patched):

- With DASHBOARD_ACCESS_TOKEN set, every request needs ``Authorization: Bearer <token>``
  (gradio_client: ``Client(url, headers=...)``) or the login cookie the dashboard's login
  sets (see configurable_agents.access; the chat has the same login at /login). A page
  load is sent to /login; anything else answers 401. /healthz stays open (up/down only).
- On any binding, a request whose Origin is not the chat itself or the dashboard (which
  frames the chat) is refused with 403, preflights included: Gradio's own CORS would
  answer any http://localhost:<port> with credentials allowed.
- State-changing requests (POST, PUT, PATCH, DELETE) must be JSON (a browser cannot send
  JSON cross-site without a preflight, refused above), carry a bearer token, or echo the
  CSRF cookie in X-CSRF-Token: the rule of the dashboard's JSON API and forms.
- On a loopback binding the Host header must name this machine, so a DNS name rebound to
  127.0.0.1 by a foreign page gets nothing.
- Only the chat itself and the dashboard may frame it (CSP frame-ancestors).
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from configurable_agents import access
from configurable_agents.bootstrap import is_loopback
from configurable_agents.settings import Settings

LOGIN_PATH = "/login"
OPEN_PATHS = frozenset({"/healthz", LOGIN_PATH})
CSRF_COOKIE = "ca_chat_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UNAUTHORISED = (
    "missing or wrong access token: log in to the dashboard (or at /login here), "
    "or send Authorization: Bearer <DASHBOARD_ACCESS_TOKEN>"
)


def _host_name(host: str) -> str:
    """The name part of a Host header or of an origin's netloc ('[::1]:80' -> '::1')."""
    return (urlsplit(f"//{host}").hostname or "").lower()


class Door:
    """The rules, independent of ASGI plumbing (testable on their own)."""

    def __init__(self, settings: Settings) -> None:
        self.token = settings.dashboard_access_token
        self.loopback = is_loopback(settings.chat_host)
        self.dashboard_port = settings.dashboard_port
        self.dashboard_url = settings.dashboard_url

    def dashboard_origins(self, scheme: str, host: str) -> set[str]:
        """The dashboard as configured, and the dashboard on the host the chat is reached at."""
        name = _host_name(host)
        shown = f"[{name}]" if ":" in name else name
        return {self.dashboard_url, f"{scheme}://{shown}:{self.dashboard_port}"}

    def origin_allowed(self, origin: str, scheme: str, host: str) -> bool:
        """The chat itself (same scheme, host and port) or the dashboard."""
        own = f"{scheme}://{host}".lower()
        return origin.lower() == own or origin in self.dashboard_origins(scheme, host)

    def refusal(self, connection: HTTPConnection, method: str) -> Response | None:
        """The answer refusing this request, or None to let it in."""
        headers = connection.headers
        host = headers.get("host", "")
        scheme = "https" if connection.url.scheme in ("https", "wss") else "http"
        if self.loopback and not _is_loopback_name(_host_name(host)):
            return _refuse(403, f"Host {host!r} is not this machine: use 127.0.0.1 or localhost")
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, scheme, host):
            return _refuse(
                403,
                f"cross-origin request from {origin} refused: only the chat itself and the "
                "dashboard may call it",
            )
        path = connection.url.path
        if path in OPEN_PATHS:
            return None  # /login checks its own form token
        if self.token and not access.is_authorised(self.token, headers, connection.cookies):
            if method == "GET" and path == "/":
                target = path + (f"?{connection.url.query}" if connection.url.query else "")
                return RedirectResponse(f"{LOGIN_PATH}?next={quote(target)}", status_code=303)
            return _refuse(401, UNAUTHORISED)
        if method not in SAFE_METHODS and not csrf_passes(connection):
            return _refuse(
                403,
                "state-changing request without a CSRF token: send JSON, an Authorization "
                "header, or the ca_chat_csrf cookie's value in X-CSRF-Token",
            )
        return None

    def frame_ancestors(self, scheme: str, host: str) -> bytes:
        """The CSP header value: framed only by itself and the dashboard."""
        sources = " ".join(sorted(self.dashboard_origins(scheme, host)))
        return f"frame-ancestors 'self' {sources}".encode()


def _is_loopback_name(name: str) -> bool:
    return name in LOOPBACK_NAMES or name.startswith("127.")


def csrf_passes(connection: HTTPConnection) -> bool:
    """JSON, a bearer token, or the CSRF cookie echoed in the header (double submit)."""
    headers = connection.headers
    if headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        return True
    if headers.get("authorization", "").lower().startswith("bearer "):
        return True
    expected = connection.cookies.get(CSRF_COOKIE, "")
    sent = headers.get(CSRF_HEADER, "")
    return bool(expected) and secrets.compare_digest(expected.encode(), sent.encode())


def _refuse(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


class DoorMiddleware:
    """Pure ASGI (Gradio streams its queue over server-sent events: nothing is buffered)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.door = Door(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        refusal = self.door.refusal(connection, method)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await refusal(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        scheme = "https" if scope.get("scheme") == "https" else "http"
        policy = self.door.frame_ancestors(scheme, connection.headers.get("host", ""))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"content-security-policy", policy),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


# --- the chat's own login (the same token and cookie as the dashboard's) -------------------

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in · Chat builder</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto;
  padding: 0 1rem; color: #1f2328; }}
label {{ display: block; margin: 1rem 0; }} input[type=password] {{ width: 100%;
  padding: .5rem; box-sizing: border-box; }}
button {{ padding: .5rem 1rem; }} .error {{ color: #b42318; }}
</style></head><body>
<h1>Log in</h1>
<p>The chat builder is behind the dashboard's access token (DASHBOARD_ACCESS_TOKEN);
logging in to the dashboard on this host logs you in here too.</p>
{error}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>Access token <input type="password" name="token" autocomplete="current-password"
 required autofocus></label>
<button type="submit">Log in</button>
</form></body></html>
"""


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _login_page(request: Request, next_path: str, error: str, status: int) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE, "")
    fresh = len(token) != 43
    if fresh:
        token = secrets.token_urlsafe(32)
    body = _PAGE.format(
        error=f'<p class="error">{html.escape(error)}</p>' if error else "",
        csrf=html.escape(token),
        next=html.escape(_safe_next(next_path)),
    )
    response = HTMLResponse(body, status_code=status)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.get(LOGIN_PATH, response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    """The login form (nothing to log in to when no token is configured)."""
    if not request.app.state.settings.dashboard_access_token:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next, "", 200)


@router.post(LOGIN_PATH)
async def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the token; set the login cookie the dashboard also accepts."""
    expected = request.app.state.settings.dashboard_access_token
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(
            request, next, "This form has expired or did not come from here: try again.", 403
        )
    if not access.token_matches(expected, token):
        return _login_page(request, next, "That token is not right.", 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.headers.append(
        "set-cookie", access.cookie_header(expected, secure=request.url.scheme == "https")
    )
    return response
