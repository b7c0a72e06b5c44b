"""Home: the state of the set at a glance, and the status API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.home_view import key_figures
from dashboard.render import page

router = APIRouter()


async def current_snapshot(request: Request) -> Any:
    """The broadcaster's latest snapshot (taken now when there is none yet)."""
    broadcaster = request.app.state.broadcaster
    return broadcaster.latest or await broadcaster.refresh()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    snapshot = await current_snapshot(request)
    return page(request, "home.html", {"snapshot": snapshot, "figures": key_figures(snapshot)})


@router.get("/api/v1/status", tags=["status"])
async def api_status(request: Request) -> dict[str, Any]:
    """The latest status snapshot of the set (same data as the live stream)."""
    snapshot = await current_snapshot(request)
    return snapshot.as_dict()
