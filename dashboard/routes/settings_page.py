"""Settings: the effective configuration (secrets redacted), health of every service, versions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.deps import settings_of
from dashboard.render import page
from dashboard.routes.events import stream_stats
from dashboard.routes.home import current_snapshot
from dashboard.settings_view import api_key_status, effective_settings, versions

router = APIRouter(include_in_schema=False)


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> HTMLResponse:
    settings = settings_of(request)
    return page(
        request,
        "settings.html",
        {
            "lines": effective_settings(settings),
            "api_key": api_key_status(settings),
            "versions": versions(),
            "snapshot": await current_snapshot(request),
            "stream": stream_stats(request),
        },
    )
