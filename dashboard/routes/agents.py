"""Agents: this set's workers and registered remote agents, alive/stale/dead, live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dashboard.deps import db_session, settings_of
from dashboard.queries import running_run_ids_by_worker
from dashboard.render import page
from dashboard.system_view import facts_from_session

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]


@router.get("/agents", response_class=HTMLResponse)
def agents_page(request: Request, session: DB) -> HTMLResponse:
    facts = facts_from_session(session, settings_of(request))
    return page(
        request,
        "agents.html",
        {
            "facts": facts,
            "agents": facts.agents,
            "per_worker": facts.per_worker,
            "run_ids": running_run_ids_by_worker(session),
        },
    )
