"""Access token: required when the dashboard listens beyond loopback.

Browsers log in once (a signed cookie, see configurable_agents.access: the chat on the
same host accepts it too); API clients send `Authorization: Bearer <token>`. /healthz and static files stay open for probes; webhooks
(signed with HMAC) and remote agents' heartbeats and leaving (each agent's own token) are
authenticated by their routes instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from configurable_agents import access
from dashboard.routes import agent_api, hooks

router = APIRouter()
COOKIE = access.COOKIE
OPEN_PATHS = ("/healthz", "/static/", "/login")


def is_open(method: str, path: str) -> bool:
    """Paths that need no token, or authenticate themselves (webhook signatures, a remote
    agent's own token): each router says which of its requests it checks itself."""
    if path.startswith(OPEN_PATHS):
        return True
    return hooks.authenticates_itself(method, path) or agent_api.authenticates_itself(method, path)


def is_authorised(request: Request, token: str) -> bool:
    """A bearer token or a valid login cookie (of this dashboard or the chat)."""
    return access.is_authorised(token, request.headers, request.cookies)


def install(app: FastAPI, settings) -> None:  # type: ignore[no-untyped-def]
    """Add the access check when a token is configured."""
    token = settings.dashboard_access_token
    if not token:
        return

    async def check(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if is_open(request.method, path) or is_authorised(request, token):
            return await call_next(request)
        if path.startswith("/api/") or path.startswith("/events/"):
            return JSONResponse({"detail": "missing or wrong access token"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    app.add_middleware(BaseHTTPMiddleware, dispatch=check)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"next": next, "error": "", "bare": True}
    )


@router.post("/login", include_in_schema=False)
async def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    expected = request.app.state.settings.dashboard_access_token
    if not access.token_matches(expected, token):
        return request.app.state.templates.TemplateResponse(
            request,
            "login.html",
            {"next": next, "error": "That token is not right.", "bare": True},
            status_code=401,
        )
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.headers.append(
        "set-cookie", access.cookie_header(expected, secure=request.url.scheme == "https")
    )
    return response
