"""GET /api/v1/palette: what the command palette (Ctrl-K) searches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from dashboard.deps import DB
from dashboard.palette import palette_items
from dashboard.schemas import PaletteItem

router = APIRouter()


@router.get("/api/v1/palette", response_model=list[PaletteItem], tags=["dashboard"])
def palette(session: DB, response: Response) -> Any:
    """What the command palette searches: pages, workflows, recent runs, actions."""
    response.headers["Cache-Control"] = "no-store"
    return palette_items(session)
