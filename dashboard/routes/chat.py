"""Chat builder: the Gradio app embedded in the workspace, or how to start it when it is down."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from configurable_agents.settings import Settings
from dashboard.deps import is_up, settings_of
from dashboard.render import page

router = APIRouter(include_in_schema=False)


WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def chat_app_url(chat_url: str, workflow: int | None) -> str:
    """The chat app's address, opening a workflow when one is given."""
    return f"{chat_url}/?workflow={workflow}" if workflow is not None else f"{chat_url}/"


def browser_chat_url(settings: Settings, request: Request) -> str:
    """Where the browser reaches the chat: on a wildcard binding, the host the browser used
    for the dashboard (so the login cookie, which belongs to that host, opens the chat too)."""
    if settings.chat_host in WILDCARD_HOSTS and request.url.hostname:
        name = request.url.hostname
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{settings.chat_port}"
    return settings.chat_url


@router.get("/chat", response_class=HTMLResponse)
async def chat_page(request: Request, workflow: int | None = None) -> HTMLResponse:
    settings = settings_of(request)
    up = await is_up(request, f"{settings.chat_url}/healthz")
    return page(
        request,
        "chat.html",
        {
            "up": up,
            "frame_url": chat_app_url(browser_chat_url(settings, request), workflow),
            "workflow": workflow,
        },
        status_code=200,
    )
