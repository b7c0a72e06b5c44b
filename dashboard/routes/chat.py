"""Chat builder: the Gradio app embedded in the workspace, or how to start it when it is down."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.deps import is_up, settings_of
from dashboard.render import page

router = APIRouter(include_in_schema=False)


def chat_app_url(chat_url: str, workflow: int | None) -> str:
    """The chat app's address, opening a workflow when one is given."""
    return f"{chat_url}/?workflow={workflow}" if workflow is not None else f"{chat_url}/"


@router.get("/chat", response_class=HTMLResponse)
async def chat_page(request: Request, workflow: int | None = None) -> HTMLResponse:
    settings = settings_of(request)
    up = await is_up(request, f"{settings.chat_url}/healthz")
    return page(
        request,
        "chat.html",
        {"up": up, "frame_url": chat_app_url(settings.chat_url, workflow), "workflow": workflow},
        status_code=200,
    )
