"""Home: the state of the set at a glance, and the status API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()


def status_context(request: Request) -> dict[str, Any]:
    snapshot = request.app.state.broadcaster.latest
    return {"snapshot": snapshot, "settings": request.app.state.settings}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "home.html", status_context(request))


@router.get("/api/v1/status", tags=["status"])
async def api_status(request: Request) -> dict[str, Any]:
    """The latest status snapshot of the set (same data as the live stream)."""
    broadcaster = request.app.state.broadcaster
    snapshot = broadcaster.latest or await broadcaster.refresh()
    return snapshot.as_dict()
