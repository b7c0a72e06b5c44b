"""The JSON API under /api/v1: everything the pages do, with the same rules and errors.

Invalid input is a 422 whose ``detail`` lists each problem with its field path (``loc``),
as FastAPI reports body validation; config problems also carry their line and column.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from configurable_agents.storage.models import Run, RunState
from configurable_agents.storage.repositories import experiments, runs, steps, workflows
from dashboard import queries, run_service, workflow_service
from dashboard.deps import db_session, session_factory_of, settings_of
from dashboard.live import AgentLine
from dashboard.palette import palette_items
from dashboard.schemas import (
    ERRORS,
    ConfigIn,
    DecisionIn,
    DeletedOut,
    DiffLineOut,
    ErrorOut,
    EstimateOut,
    ExperimentIn,
    ExperimentOut,
    InputFieldOut,
    IssueOut,
    MetricRowOut,
    MetricsOut,
    PaletteItem,
    RunIn,
    RunOut,
    RunPageOut,
    StepOut,
    ValidationOut,
    VariantSummaryOut,
    VersionOut,
    VersionTextOut,
    WorkflowCopyIn,
    WorkflowDetailOut,
    WorkflowIn,
    WorkflowOut,
)
from dashboard.system_view import agent_lines
from dashboard.workflow_lang import Issue, check, estimate_for, input_fields, json_schema

router = APIRouter(prefix="/api/v1", responses=ERRORS)
DB = Annotated[Session, Depends(db_session)]
CONFLICT = {409: {"model": ErrorOut, "description": "Name taken or state does not allow it"}}
_PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


def path_parts(path: str) -> list[str | int]:
    """``nodes[0].prompt`` -> ``["nodes", 0, "prompt"]``."""
    parts: list[str | int] = []
    for token in _PATH_PART.findall(path or ""):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts


def config_error(issues: list[Issue], field: str = "config_yaml") -> RequestValidationError:
    """A 422 listing each config issue at body.<field>.<its path>, with line and column."""
    return RequestValidationError(
        [
            {
                "loc": ["body", field, *path_parts(issue.path)],
                "msg": issue.message,
                "type": "config",
                "line": issue.line,
                "column": issue.column,
            }
            for issue in issues
        ]
    )


def conflict(message: str) -> Any:
    from fastapi import HTTPException

    return HTTPException(409, message)


# --- workflows -----------------------------------------------------------------------------


@router.get("/workflows", response_model=list[WorkflowOut], tags=["workflows"])
def list_workflows(
    session: DB,
    search: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Live workflows by name, optionally searched in name and description."""
    return workflows.list_workflows(session, search=search, limit=limit, offset=offset)


@router.get("/workflows/schema", tags=["workflows"])
def workflow_schema() -> Any:
    """The JSON Schema of a workflow config (for editors and generators)."""
    return json_schema()


@router.post("/validate", response_model=ValidationOut, tags=["workflows"])
def validate(request: Request, body: ConfigIn) -> Any:
    """Check a config without storing it: every issue with its line, and a cost estimate."""
    checked = check(body.config_yaml)
    estimate = estimate_for(checked, settings_of(request))
    return ValidationOut(
        valid=checked.ok,
        name=checked.name or None,
        issues=[IssueOut(**issue.as_dict()) for issue in checked.issues],
        estimate=EstimateOut(**estimate.__dict__),
    )


@router.post(
    "/workflows",
    response_model=WorkflowOut,
    status_code=201,
    tags=["workflows"],
    responses=CONFLICT,
)
def create_workflow(session: DB, body: WorkflowIn) -> Any:
    """Store a new workflow; its name is the config's `name`."""
    try:
        workflow = workflow_service.create_workflow(session, body.config_yaml, note=body.note)
    except workflow_service.InvalidConfig as error:
        raise config_error(error.issues) from None
    except workflow_service.NameTaken as error:
        raise conflict(str(error)) from None
    session.commit()
    return workflow


def _detail(session: Session, workflow_id: int, version: int | None = None) -> WorkflowDetailOut:
    detail = workflow_service.workflow_detail(session, workflow_id, version)
    return WorkflowDetailOut(
        **WorkflowOut.model_validate(detail.workflow).model_dump(),
        config_yaml=detail.version.config_yaml,
        inputs=[
            InputFieldOut(**{**field.__dict__, "choices": list(field.choices)})
            for field in input_fields(detail.checked)
        ],
        versions=[VersionOut.model_validate(v) for v in detail.versions],
    )


@router.get("/workflows/{workflow_id}", response_model=WorkflowDetailOut, tags=["workflows"])
def get_workflow(session: DB, workflow_id: int) -> Any:
    """A workflow with its latest config, typed inputs and versions."""
    return _detail(session, workflow_id)


@router.put(
    "/workflows/{workflow_id}",
    response_model=WorkflowDetailOut,
    tags=["workflows"],
    responses=CONFLICT,
)
def update_workflow(session: DB, workflow_id: int, body: WorkflowIn) -> Any:
    """Save a new version (the same text as the latest adds nothing)."""
    workflow = workflows.require(session, workflow_id)
    try:
        workflow_service.save_version(session, workflow, body.config_yaml, note=body.note)
    except workflow_service.InvalidConfig as error:
        raise config_error(error.issues) from None
    except workflow_service.NameTaken as error:
        raise conflict(str(error)) from None
    session.commit()
    return _detail(session, workflow_id)


@router.delete("/workflows/{workflow_id}", response_model=DeletedOut, tags=["workflows"])
def delete_workflow(session: DB, workflow_id: int) -> Any:
    """Delete a workflow; its runs are kept."""
    workflow = workflows.require(session, workflow_id)
    kept = workflow_service.delete_workflow(session, workflow)
    session.commit()
    return DeletedOut(deleted=True, runs_kept=kept)


@router.post(
    "/workflows/{workflow_id}/duplicate",
    response_model=WorkflowOut,
    status_code=201,
    tags=["workflows"],
    responses=CONFLICT,
)
def duplicate_workflow(session: DB, workflow_id: int, body: WorkflowCopyIn | None = None) -> Any:
    """A copy of the latest version under a new name."""
    workflow = workflows.require(session, workflow_id)
    try:
        copy = workflow_service.copy_workflow(
            session, workflow, new_name=body.name if body else None
        )
    except workflow_service.NameTaken as error:
        raise conflict(str(error)) from None
    session.commit()
    return copy


@router.get(
    "/workflows/{workflow_id}/versions", response_model=list[VersionOut], tags=["workflows"]
)
def list_versions(session: DB, workflow_id: int) -> Any:
    workflows.require(session, workflow_id)
    return workflows.list_versions(session, workflow_id)


@router.get(
    "/workflows/{workflow_id}/versions/{version}",
    response_model=VersionTextOut,
    tags=["workflows"],
)
def get_version(session: DB, workflow_id: int, version: int) -> Any:
    workflows.require(session, workflow_id)
    return workflows.require_version(session, workflow_id, version)


@router.get("/workflows/{workflow_id}/diff", response_model=list[DiffLineOut], tags=["workflows"])
def diff(session: DB, workflow_id: int, old: int, new: int) -> Any:
    """A line diff between two versions."""
    workflows.require(session, workflow_id)
    before, after = workflows.versions_for_diff(session, workflow_id, old, new)
    return [
        line.__dict__
        for line in workflow_service.diff_versions(before.config_yaml, after.config_yaml)
    ]


# --- runs ----------------------------------------------------------------------------------


@router.post(
    "/workflows/{workflow_id}/runs",
    response_model=RunOut,
    status_code=201,
    tags=["runs"],
    responses={429: {"model": ErrorOut, "description": "The queue is full"}},
)
async def start_run(request: Request, workflow_id: int, body: RunIn) -> Any:
    """Queue a run; inputs are checked against the workflow's typed fields."""
    try:
        return await run_in_threadpool(
            run_service.start,
            settings_of(request),
            session_factory_of(request),
            workflow_id,
            body.inputs,
            version=body.version,
            trigger="api",
        )
    except run_service.InvalidInputs as error:
        raise RequestValidationError(
            [
                {"loc": ["body", "inputs", name], "msg": message, "type": "value_error"}
                for name, message in error.errors.items()
            ]
        ) from None


@router.get("/runs", response_model=RunPageOut, tags=["runs"])
def list_runs(
    session: DB,
    workflow_id: int | None = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(RunState.ALL) + ")$")] = None,
    since: Annotated[str | None, Query(description="first day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(description="last day, YYYY-MM-DD")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Runs newest first, filtered; keyset pages stay fast at any depth."""
    from datetime import date

    def day(name: str, text: str | None) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise RequestValidationError(
                [{"loc": ["query", name], "msg": "must be a date like 2025-01-31", "type": "date"}]
            ) from None

    filters = queries.RunFilters(
        workflow_id=workflow_id, state=state, since=day("since", since), until=day("until", until)
    )
    found = queries.runs_page(session, filters, cursor=cursor, limit=limit)
    return RunPageOut(
        items=[RunOut.model_validate(run) for run in found.runs], next_cursor=found.next_cursor
    )


@router.get("/runs/{run_id}", response_model=RunOut, tags=["runs"])
def get_run(session: DB, run_id: str) -> Any:
    return runs.require(session, run_id)


@router.get("/runs/{run_id}/steps", response_model=list[StepOut], tags=["runs"])
def get_steps(session: DB, run_id: str) -> Any:
    """Every step of the run in order: rendered prompt, output, tokens, cost, latency, error."""
    runs.require(session, run_id)
    return steps.list_for_run(session, run_id)


def _reload(request: Request, run_id: str) -> Run:
    from configurable_agents.storage.database import session_scope

    with session_scope(session_factory_of(request)) as session:
        return runs.require(session, run_id)


@router.post("/runs/{run_id}/cancel", response_model=RunOut, tags=["runs"], responses=CONFLICT)
async def cancel_run(request: Request, run_id: str) -> Any:
    """Cancel a queued or waiting run now; a running one stops at its next step."""
    await run_in_threadpool(run_service.cancel, session_factory_of(request), run_id)
    return await run_in_threadpool(_reload, request, run_id)


@router.post(
    "/runs/{run_id}/retry",
    response_model=RunOut,
    status_code=201,
    tags=["runs"],
    responses=CONFLICT,
)
async def retry_run(request: Request, run_id: str) -> Any:
    """Start a new run with the same version and inputs as a failed or cancelled one."""
    return await run_in_threadpool(
        run_service.retry, settings_of(request), session_factory_of(request), run_id
    )


@router.post("/runs/{run_id}/approve", response_model=RunOut, tags=["runs"], responses=CONFLICT)
async def approve_run(request: Request, run_id: str, body: DecisionIn) -> Any:
    """Approve or reject a run waiting for a human decision."""
    await run_in_threadpool(
        lambda: run_service.decide(
            settings_of(request),
            session_factory_of(request),
            run_id,
            approved=body.approved,
            comment=body.comment,
        )
    )
    return await run_in_threadpool(_reload, request, run_id)


# --- agents, experiments, metrics, palette -------------------------------------------------


@router.get("/agents", response_model=list[AgentLine], tags=["agents"])
def list_agents(session: DB) -> Any:
    """Workers and remote agents with alive/stale/dead."""
    return agent_lines(session)


def _experiment_out(session: Session, experiment: Any, with_summary: bool) -> ExperimentOut:
    summary = (
        [VariantSummaryOut(**s.__dict__) for s in experiments.summary(session, experiment)]
        if with_summary
        else []
    )
    return ExperimentOut(
        id=experiment.id,
        name=experiment.name,
        workflow_id=experiment.workflow_id,
        description=experiment.description,
        status=experiment.status,
        dataset_items=len(experiment.dataset),
        variants=[variant.name for variant in experiment.variants],
        created_at=experiment.created_at,
        summary=summary,
    )


@router.get("/experiments", response_model=list[ExperimentOut], tags=["experiments"])
def list_experiments(session: DB) -> Any:
    return [_experiment_out(session, e, False) for e in experiments.list_experiments(session)]


@router.post(
    "/experiments",
    response_model=ExperimentOut,
    status_code=201,
    tags=["experiments"],
    responses=CONFLICT,
)
def create_experiment(session: DB, body: ExperimentIn) -> Any:
    """A draft experiment: variants of a workflow compared over a dataset."""
    if body.workflow_id is not None:
        workflows.require(session, body.workflow_id)
    try:
        experiment = experiments.create(
            session,
            name=body.name,
            variants=body.variants,
            dataset=body.dataset,
            workflow_id=body.workflow_id,
            description=body.description,
        )
    except experiments.ExperimentNameTakenError as error:
        raise conflict(str(error)) from None
    session.commit()
    return _experiment_out(session, experiment, True)


@router.get("/experiments/{experiment_id}", response_model=ExperimentOut, tags=["experiments"])
def get_experiment(session: DB, experiment_id: int) -> Any:
    return _experiment_out(session, experiments.get(session, experiment_id), True)


@router.get("/metrics", response_model=MetricsOut, tags=["metrics"])
def get_metrics(
    session: DB,
    range: Annotated[str, Query(pattern="^(24h|7d|30d)$")] = "7d",
    group: Annotated[str, Query(pattern="^(workflow|model)$")] = "workflow",
) -> Any:
    """Cost, tokens and mean step latency per time bucket and per workflow or model."""
    data = queries.metrics(session, range_=range, group_by=group)
    return MetricsOut(
        range=data.range,
        group_by=data.group_by,
        buckets=data.buckets,
        rows=[MetricRowOut(**row.__dict__) for row in data.rows],
    )


@router.get("/palette", response_model=list[PaletteItem], tags=["dashboard"])
def palette(session: DB, response: Response) -> Any:
    """What the command palette searches: pages, workflows, recent runs, actions."""
    response.headers["Cache-Control"] = "no-store"
    return palette_items(session)
