"""One workflow: its graph, typed run form, cost estimate, versions and recent runs, and
the diff between two versions; as pages and as /api/v1/workflows/{id}[...]."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.queue.schedules import tick_time
from configurable_agents.settings import Settings
from configurable_agents.storage.models import Run, Workflow, WorkflowVersion
from configurable_agents.storage.repositories import runs, triggers, workflows
from dashboard import queries
from dashboard.deps import DB, hx_target, settings_of
from dashboard.graph_svg import render_graph
from dashboard.render import page, partial
from dashboard.schemas import (
    DiffLineOut,
    InputFieldOut,
    ScheduleTickOut,
    VersionOut,
    VersionTextOut,
    WorkflowDetailOut,
    WorkflowOut,
)
from dashboard.workflow_lang import Checked, check, estimate_for, graph_of, input_fields
from dashboard.workflow_service import diff_versions

router = APIRouter()


@dataclass
class WorkflowDetail:
    """Everything the workflow page shows."""

    workflow: Workflow
    version: WorkflowVersion
    versions: list[WorkflowVersion]
    checked: Checked
    runs: list[Run] = field(default_factory=list)
    run_count: int = 0
    ticks: list[ScheduleTickOut] = field(default_factory=list)


def workflow_detail(
    session: Session, workflow_id: int, version: int | None = None
) -> WorkflowDetail:
    """The workflow, the chosen version (latest by default), its config checked, recent runs."""
    workflow = workflows.require(session, workflow_id)
    chosen = queries.stored_version(session, workflow_id, version)
    return WorkflowDetail(
        workflow=workflow,
        version=chosen,
        versions=list(workflows.list_versions(session, workflow_id)),
        checked=check(chosen.config_yaml),
        runs=list(runs.list_runs(session, workflow_id=workflow_id, limit=10)),
        run_count=queries.workflow_run_counts(session, [workflow_id]).get(workflow_id, 0),
        ticks=schedule_ticks(session, workflow.name),
    )


def schedule_ticks(session: Session, workflow_name: str, limit: int = 20) -> list[ScheduleTickOut]:
    """The latest schedule ticks of a workflow with their outcomes, newest first."""
    events = triggers.list_events(
        session, workflow_name=workflow_name, kind="schedule", limit=limit
    )
    ticks = []
    for event in events:
        schedule, _, _ = event.idempotency_key.rpartition("@")
        ticks.append(
            ScheduleTickOut(
                schedule=schedule.partition(" ")[2],
                tick_at=tick_time(event.idempotency_key) or event.received_at,
                outcome=event.outcome,  # type: ignore[arg-type]
                detail=event.detail,
                run_id=event.run_id,
                recorded_at=event.received_at,
            )
        )
    return ticks


def workflow_context(
    session: Session, settings: Settings, workflow_id: int, version: int | None = None
) -> dict[str, Any]:
    """The workflow page: detail, graph, typed input fields and a cost estimate."""
    detail = workflow_detail(session, workflow_id, version)
    return {
        "detail": detail,
        "workflow": detail.workflow,
        "graph_svg": render_graph(
            graph_of(detail.checked),
            dom_id=f"graph-{workflow_id}",
            title=f"Graph of {detail.workflow.name}",
        ),
        "fields": input_fields(detail.checked),
        "values": {},
        "errors": {},
        "estimate": estimate_for(detail.checked, settings),
    }


def workflow_out(session: Session, settings: Settings, workflow_id: int) -> WorkflowDetailOut:
    """The workflow page's data as the API answers it."""
    context = workflow_context(session, settings, workflow_id)
    detail: WorkflowDetail = context["detail"]
    return WorkflowDetailOut(
        **WorkflowOut.model_validate(detail.workflow).model_dump(),
        config_yaml=detail.version.config_yaml,
        inputs=[
            InputFieldOut(**{**item.__dict__, "choices": list(item.choices)})
            for item in context["fields"]
        ],
        versions=[VersionOut.model_validate(v) for v in detail.versions],
        schedule_ticks=detail.ticks,
    )


def diff_context(session: Session, workflow_id: int, old: int, new: int) -> dict[str, Any]:
    """Two versions of a workflow and the line diff between them."""
    workflow = workflows.require(session, workflow_id)
    before, after = workflows.versions_for_diff(session, workflow_id, old, new)
    return {
        "workflow": workflow,
        "old": before,
        "new": after,
        "lines": diff_versions(before.config_yaml, after.config_yaml),
        "versions": workflows.list_versions(session, workflow_id),
    }


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse, include_in_schema=False)
def workflow_page(
    request: Request, session: DB, workflow_id: int, version: int | None = None
) -> HTMLResponse:
    context = workflow_context(session, settings_of(request), workflow_id, version)
    return page(request, "workflows/detail.html", context)


@router.get("/workflows/{workflow_id}/diff", response_class=HTMLResponse, include_in_schema=False)
def version_diff(
    request: Request, session: DB, workflow_id: int, old: int, new: int
) -> HTMLResponse:
    context = diff_context(session, workflow_id, old, new)
    if hx_target(request) == "diff":
        return partial(request, "partials/_diff.html", context)
    return page(request, "workflows/diff.html", context)


@router.get("/api/v1/workflows/{workflow_id}", response_model=WorkflowDetailOut, tags=["workflows"])
def get_workflow(request: Request, session: DB, workflow_id: int) -> Any:
    """A workflow with its latest config, typed inputs and versions."""
    return workflow_out(session, settings_of(request), workflow_id)


@router.get(
    "/api/v1/workflows/{workflow_id}/versions",
    response_model=list[VersionOut],
    tags=["workflows"],
)
def list_versions(session: DB, workflow_id: int) -> Any:
    return workflow_detail(session, workflow_id).versions


@router.get(
    "/api/v1/workflows/{workflow_id}/versions/{version}",
    response_model=VersionTextOut,
    tags=["workflows"],
)
def get_version(session: DB, workflow_id: int, version: int) -> Any:
    return queries.stored_version(session, workflow_id, version)


@router.get(
    "/api/v1/workflows/{workflow_id}/diff",
    response_model=list[DiffLineOut],
    tags=["workflows"],
)
def diff(session: DB, workflow_id: int, old: int, new: int) -> Any:
    """A line diff between two versions."""
    return [line.__dict__ for line in diff_context(session, workflow_id, old, new)["lines"]]
