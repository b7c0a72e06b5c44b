"""Workflows: list and search, detail (graph, versions, diff, runs, run form), editor, copy, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.queue.errors import REFUSALS, http_status
from configurable_agents.storage.repositories import workflows
from dashboard import run_service, workflow_service
from dashboard.deps import db_session, hx_target, session_factory_of, settings_of
from dashboard.graph_svg import render_graph
from dashboard.queries import workflow_run_counts
from dashboard.render import page, partial, redirect
from dashboard.workflow_lang import check, errors_by_input, estimate_for, graph_of, input_fields

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]


@router.get("/workflows", response_class=HTMLResponse)
def workflow_list(request: Request, session: DB, q: str = "", deleted: str = "") -> HTMLResponse:
    found = list(workflows.list_workflows(session, search=q.strip(), limit=500))
    context = {
        "workflows": found,
        "q": q,
        "deleted": deleted,
        "run_counts": workflow_run_counts(session, [w.id for w in found]),
        "total": workflows.count(session),
    }
    if hx_target(request) == "workflow-rows":
        return partial(request, "partials/_workflow_rows.html", context)
    return page(request, "workflows/list.html", context)


# --- editor --------------------------------------------------------------------------------


def editor_context(
    request: Request,
    text: str,
    *,
    workflow: Any = None,
    issues: list[Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
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


@router.get("/workflows/new", response_class=HTMLResponse)
def new_workflow(request: Request) -> HTMLResponse:
    return page(
        request, "workflows/editor.html", editor_context(request, workflow_service.STARTER_CONFIG)
    )


@router.post("/workflows/new", response_class=HTMLResponse)
def create_workflow(
    request: Request, session: DB, config_yaml: Annotated[str, Form()] = ""
) -> Response:
    try:
        workflow = workflow_service.create_workflow(session, config_yaml)
    except workflow_service.InvalidConfig as error:
        context = editor_context(
            request, config_yaml, issues=error.issues, error="Fix the problems below."
        )
        return page(request, "workflows/editor.html", context, status_code=422)
    except workflow_service.NameTaken as error:
        context = editor_context(request, config_yaml, error=str(error))
        return page(request, "workflows/editor.html", context, status_code=409)
    session.commit()
    return redirect(request, f"/workflows/{workflow.id}")


@router.post("/workflows/validate", response_class=HTMLResponse)
def validate_config(request: Request, config_yaml: Annotated[str, Form()] = "") -> HTMLResponse:
    """The editor's live check: issues at their lines and a cost estimate (HTMX partial)."""
    return partial(request, "partials/_validation.html", editor_context(request, config_yaml))


@router.get("/workflows/{workflow_id}/edit", response_class=HTMLResponse)
def edit_workflow(request: Request, session: DB, workflow_id: int) -> HTMLResponse:
    workflow = workflows.require(session, workflow_id)
    text = workflow_service.stored_version(session, workflow_id).config_yaml
    return page(request, "workflows/editor.html", editor_context(request, text, workflow=workflow))


@router.post("/workflows/{workflow_id}/edit", response_class=HTMLResponse)
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
    except workflow_service.InvalidConfig as error:
        context = editor_context(
            request,
            config_yaml,
            workflow=workflow,
            issues=error.issues,
            error="Fix the problems below.",
        )
        return page(request, "workflows/editor.html", context, status_code=422)
    except workflow_service.NameTaken as error:
        context = editor_context(request, config_yaml, workflow=workflow, error=str(error))
        return page(request, "workflows/editor.html", context, status_code=409)
    session.commit()
    return redirect(request, f"/workflows/{workflow_id}")


# --- detail --------------------------------------------------------------------------------


def detail_context(
    request: Request, session: Session, workflow_id: int, version: int | None = None
) -> dict[str, Any]:
    detail = workflow_service.workflow_detail(session, workflow_id, version)
    graph = graph_of(detail.checked)
    return {
        "detail": detail,
        "workflow": detail.workflow,
        "graph_svg": render_graph(
            graph, dom_id=f"graph-{workflow_id}", title=f"Graph of {detail.workflow.name}"
        ),
        "fields": input_fields(detail.checked),
        "values": {},
        "errors": {},
        "estimate": estimate_for(detail.checked, settings_of(request)),
    }


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow_detail(
    request: Request, session: DB, workflow_id: int, version: int | None = None
) -> HTMLResponse:
    return page(
        request, "workflows/detail.html", detail_context(request, session, workflow_id, version)
    )


@router.post("/workflows/{workflow_id}/run", response_class=HTMLResponse)
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
    except run_service.InvalidInputs as error:
        return await run_in_threadpool(
            _run_form_with_errors, request, workflow_id, version, values, error.errors, ""
        )
    except InvalidInputsError as error:
        errors = errors_by_input(error.problems)
        return await run_in_threadpool(
            _run_form_with_errors, request, workflow_id, version, values, errors, ""
        )
    except REFUSALS as error:
        if http_status(error) == 404:
            raise
        # Queue full or unreachable, a version that no longer validates: say it at the form.
        return await run_in_threadpool(
            _run_form_with_errors, request, workflow_id, version, values, {}, str(error)
        )
    return redirect(request, f"/runs/{run.id}")


def _run_form_with_errors(
    request: Request,
    workflow_id: int,
    version: int | None,
    values: dict[str, str],
    errors: dict[str, str],
    form_error: str,
) -> HTMLResponse:
    from configurable_agents.storage.database import session_scope

    with session_scope(session_factory_of(request)) as session:
        context = detail_context(request, session, workflow_id, version)
        context.update(values=values, errors=errors, form_error=form_error)
        if hx_target(request) == "run-form":
            return partial(request, "partials/_run_form.html", context, status_code=422)
        return page(request, "workflows/detail.html", context, status_code=422)


@router.post("/workflows/{workflow_id}/duplicate", response_class=HTMLResponse)
def duplicate_workflow(request: Request, session: DB, workflow_id: int) -> Response:
    workflow = workflows.require(session, workflow_id)
    copy = workflow_service.copy_workflow(session, workflow)
    session.commit()
    return redirect(request, f"/workflows/{copy.id}")


@router.get("/workflows/{workflow_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, session: DB, workflow_id: int) -> HTMLResponse:
    workflow = workflows.require(session, workflow_id)
    runs_kept = workflow_run_counts(session, [workflow_id]).get(workflow_id, 0)
    return page(request, "workflows/delete.html", {"workflow": workflow, "runs_kept": runs_kept})


@router.post("/workflows/{workflow_id}/delete", response_class=HTMLResponse)
def delete_workflow(request: Request, session: DB, workflow_id: int) -> Response:
    workflow = workflows.require(session, workflow_id)
    name = workflow.name
    workflow_service.delete_workflow(session, workflow)
    session.commit()
    from urllib.parse import quote

    return redirect(request, f"/workflows?deleted={quote(name)}")


@router.get("/workflows/{workflow_id}/diff", response_class=HTMLResponse)
def version_diff(
    request: Request, session: DB, workflow_id: int, old: int, new: int
) -> HTMLResponse:
    workflow = workflows.require(session, workflow_id)
    before, after = workflows.versions_for_diff(session, workflow_id, old, new)
    context = {
        "workflow": workflow,
        "old": before,
        "new": after,
        "lines": workflow_service.diff_versions(before.config_yaml, after.config_yaml),
        "versions": workflows.list_versions(session, workflow_id),
    }
    if hx_target(request) == "diff":
        return partial(request, "partials/_diff.html", context)
    return page(request, "workflows/diff.html", context)
