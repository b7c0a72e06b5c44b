"""Agents: this set's workers and registered remote agents, alive/stale/dead, live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.settings import Settings
from dashboard import queries
from dashboard.deps import DB, settings_of
from dashboard.live.snapshot import AgentLine
from dashboard.pages.orchestrator import facts_from_session
from dashboard.render import page

router = APIRouter()


def agents_context(session: Session, settings: Settings) -> dict[str, Any]:
    """Every agent with its liveness, and the runs each worker executes now."""
    facts = facts_from_session(session, settings)
    return {
        "facts": facts,
        "agents": facts.agents,
        "per_worker": facts.per_worker,
        "run_ids": queries.running_run_ids_by_worker(session),
    }


@router.get("/agents", response_class=HTMLResponse, include_in_schema=False)
def agents_page(request: Request, session: DB) -> HTMLResponse:
    return page(request, "agents.html", agents_context(session, settings_of(request)))


@router.get("/api/v1/agents", response_model=list[AgentLine], tags=["agents"])
def list_agents(request: Request, session: DB) -> Any:
    """Workers and remote agents with alive/stale/dead."""
    return agents_context(session, settings_of(request))["agents"]
