"""Templates: the example gallery, and "use this template" (a copy the user owns)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.storage.repositories import workflows
from dashboard import workflow_service
from dashboard.deps import db_session
from dashboard.graph_svg import render_graph
from dashboard.render import page
from dashboard.routes.workflows import duplicate_workflow
from dashboard.workflow_lang import check, graph_of, input_fields

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]


@router.get("/templates", response_class=HTMLResponse)
def gallery(request: Request, session: DB) -> HTMLResponse:
    cards = []
    for template in workflow_service.list_templates(session):
        latest = workflows.get_version(session, template.id)
        checked = check(latest.config_yaml if latest else "")
        graph = graph_of(checked)
        cards.append(
            {
                "workflow": template,
                "kinds": sorted({node.kind for node in graph.work_nodes}),
                "inputs": [field.name for field in input_fields(checked)],
                "graph_svg": render_graph(
                    graph, dom_id=f"template-{template.id}", title=template.name
                ),
            }
        )
    return page(request, "templates.html", {"cards": cards})


# Using a template is duplicating it: the copy is the user's own (source "user").
router.post("/templates/{workflow_id}/use", response_class=HTMLResponse)(duplicate_workflow)
