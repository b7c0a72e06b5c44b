"""Workflow commands, from the pages' forms and from the API: check a config, create,
edit (a new version), run, copy (and "use this template"), delete.

A form that fails is shown again with its problems beside the fields; the API answers
the same failures through the app's one exception handler (dashboard/errors.py).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from configurable_agents.config.errors import ConfigError, InvalidInputsError
from configurable_agents.queue.errors import REFUSALS, http_status
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import WorkflowNameTakenError
from configurable_agents.storage.models import Workflow
from configurable_agents.storage.repositories import workflows
from dashboard import queries, run_service, workflow_service
from dashboard.deps import DB, hx_target, session_factory_of, settings_of
from dashboard.pages.workflow import workflow_context, workflow_out
from dashboard.render import page, partial, redirect
from dashboard.schemas import (
    CONFLICT,
    ConfigIn,
    DeletedOut,
    EstimateOut,
    IssueOut,
    ValidationOut,
    WorkflowCopyIn,
    WorkflowDetailOut,
    WorkflowIn,
    WorkflowOut,
)
from dashboard.workflow_lang import check, errors_by_input, estimate_for

router = APIRouter()


# --- the editor (a form page: new, edit, live check) ---------------------------------------


def editor_context(
    request: Request,
    text: str,
    *,
    workflow: Workflow | None = None,
    issues: list[Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
    """The editor with its text checked: issues at their lines and a cost estimate."""
    checked = check(text)
    return {
        "text": text,
        "workflow": workflow,
        "checked": checked,
        "issues": issues if issues is not None else checked.issues,
        "estimate": estimate_for(checked, settings_of(request)),
        "line_count": max(1, len(text.splitlines())),
        "error": error,
    }


def editor_again(
    request: Request, text: str, error: Exception, workflow: Workflow | None = None
) -> HTMLResponse:
    """The editor again with the text as sent: 422 with its issues, or 409 for a taken name."""
    if isinstance(error, ConfigError):
        context = editor_context(
            request, text, workflow=workflow, issues=error.issues, error="Fix the problems below."
        )
        return page(request, "workflows/editor.html", context, status_code=422)
    context = editor_context(request, text, workflow=workflow, error=str(error))
    return page(request, "workflows/editor.html", context, status_code=409)


FORM_FAILURES = (ConfigError, WorkflowNameTakenError)


@router.get("/workflows/new", response_class=HTMLResponse, include_in_schema=False)
def new_workflow(request: Request) -> HTMLResponse:
    context = editor_context(request, workflow_service.STARTER_CONFIG)
    return page(request, "workflows/editor.html", context)


@router.post("/workflows/new", response_class=HTMLResponse, include_in_schema=False)
def create_workflow(
    request: Request, session: DB, config_yaml: Annotated[str, Form()] = ""
) -> Response:
    try:
        workflow = workflow_service.create_workflow(session, config_yaml)
    except FORM_FAILURES as error:
        return editor_again(request, config_yaml, error)
    session.commit()
    return redirect(request, f"/workflows/{workflow.id}")


@router.post("/workflows/validate", response_class=HTMLResponse, include_in_schema=False)
def validate_config(request: Request, config_yaml: Annotated[str, Form()] = "") -> HTMLResponse:
    """The editor's live check: issues at their lines and a cost estimate (HTMX partial)."""
    return partial(request, "partials/_validation.html", editor_context(request, config_yaml))


@router.get("/workflows/{workflow_id}/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_workflow(request: Request, session: DB, workflow_id: int) -> HTMLResponse:
    workflow = workflows.require(session, workflow_id)
    text = queries.stored_version(session, workflow_id).config_yaml
    return page(request, "workflows/editor.html", editor_context(request, text, workflow=workflow))


@router.post("/workflows/{workflow_id}/edit", response_class=HTMLResponse, include_in_schema=False)
def save_workflow(
    request: Request,
    session: DB,
    workflow_id: int,
    config_yaml: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    workflow = workflows.require(session, workflow_id)
    try:
        workflow_service.save_version(session, workflow, config_yaml, note=note)
    except FORM_FAILURES as error:
        return editor_again(request, config_yaml, error, workflow)
    session.commit()
    return redirect(request, f"/workflows/{workflow_id}")


# --- run, copy, delete from the pages ------------------------------------------------------


@router.post("/workflows/{workflow_id}/run", response_class=HTMLResponse, include_in_schema=False)
async def run_workflow(request: Request, workflow_id: int) -> Response:
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    values.pop("csrf_token", None)
    version_text = values.pop("_version", "")
    version = int(version_text) if version_text.isdigit() else None
    try:
        run = await run_in_threadpool(
            run_service.start,
            settings_of(request),
            session_factory_of(request),
            workflow_id,
            values,
            version=version,
        )
    except InvalidInputsError as error:
        errors, message = errors_by_input(error.problems), ""
    except REFUSALS as error:
        if http_status(error) == 404:
            raise
        # Queue full or unreachable, a version that no longer validates: say it at the form.
        errors, message = {}, str(error)
    else:
        return redirect(request, f"/runs/{run.id}")
    return await run_in_threadpool(
        run_form_again, request, workflow_id, version, values, errors, message
    )


def run_form_again(
    request: Request,
    workflow_id: int,
    version: int | None,
    values: dict[str, str],
    errors: dict[str, str],
    form_error: str,
) -> HTMLResponse:
    """The workflow page (or its run form alone) again, with the values and the problems."""
    with session_scope(session_factory_of(request)) as session:
        context = workflow_context(session, settings_of(request), workflow_id, version)
        context.update(values=values, errors=errors, form_error=form_error)
        if hx_target(request) == "run-form":
            return partial(request, "partials/_run_form.html", context, status_code=422)
        return page(request, "workflows/detail.html", context, status_code=422)


@router.post(
    "/workflows/{workflow_id}/duplicate", response_class=HTMLResponse, include_in_schema=False
)
def duplicate_workflow(request: Request, session: DB, workflow_id: int) -> Response:
    workflow = workflows.require(session, workflow_id)
    copy = workflow_service.copy_workflow(session, workflow)
    session.commit()
    return redirect(request, f"/workflows/{copy.id}")


# Using a template is duplicating it: the copy is the user's own (source "user").
router.post("/templates/{workflow_id}/use", response_class=HTMLResponse, include_in_schema=False)(
    duplicate_workflow
)


@router.get("/workflows/{workflow_id}/delete", response_class=HTMLResponse, include_in_schema=False)
def confirm_delete(request: Request, session: DB, workflow_id: int) -> HTMLResponse:
    workflow = workflows.require(session, workflow_id)
    runs_kept = queries.workflow_run_counts(session, [workflow_id], include_experiments=True).get(
        workflow_id, 0
    )
    return page(request, "workflows/delete.html", {"workflow": workflow, "runs_kept": runs_kept})


@router.post(
    "/workflows/{workflow_id}/delete", response_class=HTMLResponse, include_in_schema=False
)
def delete_workflow(request: Request, session: DB, workflow_id: int) -> Response:
    workflow = workflows.require(session, workflow_id)
    name = workflow.name
    workflow_service.delete_workflow(session, workflow)
    session.commit()
    return redirect(request, f"/workflows?deleted={quote(name)}")


# --- the API -------------------------------------------------------------------------------


@router.post("/api/v1/validate", response_model=ValidationOut, tags=["workflows"])
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
    "/api/v1/workflows",
    response_model=WorkflowOut,
    status_code=201,
    tags=["workflows"],
    responses=CONFLICT,
)
def api_create_workflow(session: DB, body: WorkflowIn) -> Any:
    """Store a new workflow; its name is the config's `name`."""
    workflow = workflow_service.create_workflow(session, body.config_yaml, note=body.note)
    session.commit()
    return workflow


@router.put(
    "/api/v1/workflows/{workflow_id}",
    response_model=WorkflowDetailOut,
    tags=["workflows"],
    responses=CONFLICT,
)
def api_update_workflow(request: Request, session: DB, workflow_id: int, body: WorkflowIn) -> Any:
    """Save a new version (the same text as the latest adds nothing)."""
    workflow = workflows.require(session, workflow_id)
    workflow_service.save_version(session, workflow, body.config_yaml, note=body.note)
    session.commit()
    return workflow_out(session, settings_of(request), workflow_id)


@router.delete("/api/v1/workflows/{workflow_id}", response_model=DeletedOut, tags=["workflows"])
def api_delete_workflow(session: DB, workflow_id: int) -> Any:
    """Delete a workflow; its runs are kept."""
    workflow = workflows.require(session, workflow_id)
    kept = workflow_service.delete_workflow(session, workflow)
    session.commit()
    return DeletedOut(deleted=True, runs_kept=kept)


@router.post(
    "/api/v1/workflows/{workflow_id}/duplicate",
    response_model=WorkflowOut,
    status_code=201,
    tags=["workflows"],
    responses=CONFLICT,
)
def api_duplicate_workflow(
    session: DB, workflow_id: int, body: WorkflowCopyIn | None = None
) -> Any:
    """A copy of the latest version under a new name."""
    workflow = workflows.require(session, workflow_id)
    copy = workflow_service.copy_workflow(session, workflow, new_name=body.name if body else None)
    session.commit()
    return copy
