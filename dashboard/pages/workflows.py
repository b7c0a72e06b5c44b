"""Workflows: the list, searched by name and description, with run counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.storage.repositories import workflows
from dashboard import queries
from dashboard.deps import DB, hx_target
from dashboard.render import page, partial
from dashboard.schemas import WorkflowOut
from dashboard.workflow_lang import json_schema

router = APIRouter()


def workflows_context(
    session: Session, search: str = "", *, limit: int = 500, offset: int = 0
) -> dict[str, Any]:
    """Live workflows by name (optionally searched), their run counts, and the total."""
    found = list(workflows.list_workflows(session, search=search, limit=limit, offset=offset))
    return {
        "workflows": found,
        "q": search,
        "run_counts": queries.workflow_run_counts(session, [w.id for w in found]),
        "total": workflows.count(session),
    }


@router.get("/workflows", response_class=HTMLResponse, include_in_schema=False)
def workflow_list(request: Request, session: DB, q: str = "", deleted: str = "") -> HTMLResponse:
    context = {**workflows_context(session, q.strip()), "q": q, "deleted": deleted}
    if hx_target(request) == "workflow-rows":
        return partial(request, "partials/_workflow_rows.html", context)
    return page(request, "workflows/list.html", context)


@router.get("/api/v1/workflows", response_model=list[WorkflowOut], tags=["workflows"])
def list_workflows(
    session: DB,
    search: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Live workflows by name, optionally searched in name and description."""
    return workflows_context(session, search, limit=limit, offset=offset)["workflows"]


# Before /api/v1/workflows/{workflow_id} (pages/workflow.py): "schema" is no workflow id.
@router.get("/api/v1/workflows/schema", tags=["workflows"])
def workflow_schema() -> Any:
    """The JSON Schema of a workflow config (for editors and generators)."""
    return json_schema()
