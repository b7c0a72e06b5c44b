"""Access token and API keys: required when the dashboard listens beyond loopback.

Browsers log in once with the access token (a signed cookie, see configurable_agents.access:
the chat on the same host accepts it too); programs send
`Authorization: Bearer <key>` with an API key (`configurable-agents keys create NAME`, kept
as a hash) or the access token. The run API, /v1 and /mcp need one of them off loopback, or on
loopback too with API_KEYS_REQUIRED; with an access token set, every path but the open ones
needs it (or, under /api/ and /v1/, an API key). /healthz and static files stay open for
probes; webhooks (signed with HMAC) and remote agents' heartbeats and leaving (each agent's
own token) are authenticated by their routes instead.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from configurable_agents import access
from configurable_agents.bootstrap import is_loopback
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import api_keys
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


# The run API, /v1 and /mcp: what programs call, so what API keys guard.
# /mcp too: MCP clients are programs (each workflow an MCP tool).
SERVING_PATHS = re.compile(
    r"^/v1/|^/mcp/?$|^/api/v1/workflows/[^/]+/runs$|^/api/v1/runs/[^/]+/events$"
)
KEY_PATHS = ("/api/", "/v1/", "/mcp")


def is_serving(path: str) -> bool:
    """Whether the path is the run API or /v1 (guarded by API keys off loopback)."""
    return SERVING_PATHS.match(path) is not None


def keys_required(settings: Settings) -> bool:
    """API keys (or the access token) guard the run API and /v1: off loopback, or on it when
    API_KEYS_REQUIRED says so."""
    return settings.api_keys_required or not is_loopback(settings.dashboard_host)


def bearer(request: Request) -> str:
    """The bearer credential of the request ("" when none)."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def is_api_key(request: Request, key: str) -> bool:
    """Whether ``key`` is a live API key (its use is noted)."""
    with session_scope(request.app.state.database.session_factory) as session:
        return api_keys.verify(session, key) is not None


def is_authorised(request: Request, token: str) -> bool:
    """Whether the request carries the access token (bearer, or a valid login cookie of
    this dashboard or the chat)."""
    return access.is_authorised(token, request.headers, request.cookies)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the access check when a token is configured or API keys are required."""
    token = settings.dashboard_access_token
    guard_serving = keys_required(settings)
    if not token and not guard_serving:
        return

    async def check(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        guarded = bool(token) or (guard_serving and is_serving(path))
        if not guarded or is_open(request.method, path) or is_authorised(request, token):
            return await call_next(request)
        key = bearer(request)
        if key and path.startswith(KEY_PATHS) and await run_in_threadpool(is_api_key, request, key):
            return await call_next(request)
        if path.startswith(KEY_PATHS) or path.startswith("/events/"):
            what = "API key or access token" if path.startswith(KEY_PATHS) else "access token"
            return JSONResponse(
                {"detail": f"missing, wrong or revoked {what}: send Authorization: Bearer <key>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
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
