"""Templates: the example gallery (graph, node kinds and inputs of each example).

"Use this template" is a command: routes/workflows.py copies the example.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.storage.repositories import workflows
from dashboard import queries
from dashboard.deps import DB
from dashboard.graph_svg import render_graph
from dashboard.render import page
from dashboard.workflow_lang import check, graph_of, input_fields

router = APIRouter()


def templates_context(session: Session) -> dict[str, Any]:
    """A card per example: the workflow, its node kinds, its inputs and its graph."""
    cards = []
    for template in queries.live_templates(session):
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
    return {"cards": cards}


@router.get("/templates", response_class=HTMLResponse, include_in_schema=False)
def gallery(request: Request, session: DB) -> HTMLResponse:
    return page(request, "templates.html", templates_context(session))


@router.get("/api/v1/templates", tags=["workflows"])
def api_templates(session: DB) -> list[dict[str, Any]]:
    """The examples one can copy: id, name, description, node kinds and inputs."""
    return [
        {
            "id": card["workflow"].id,
            "name": card["workflow"].name,
            "description": card["workflow"].description,
            "kinds": card["kinds"],
            "inputs": card["inputs"],
            "use_url": f"/templates/{card['workflow'].id}/use",
        }
        for card in templates_context(session)["cards"]
    ]
