"""Runs: the filtered list (keyset pages), a run's detail with live progress, and its actions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from configurable_agents.storage.models import RunState
from dashboard import run_service
from dashboard.deps import db_session, hx_target, session_factory_of, settings_of
from dashboard.graph_svg import render_graph
from dashboard.queries import RunFilters, runs_page, workflow_choices
from dashboard.render import page, partial, redirect
from dashboard.workflow_lang import graph_of

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]
PAGE_SIZE = 50


def parse_filters(
    workflow: str = "", state: str = "", since: str = "", until: str = ""
) -> RunFilters:
    """Filters from query text; a bad value is a 400 naming the parameter."""
    workflow_id = None
    if workflow.strip():
        if not workflow.strip().isdigit():
            raise HTTPException(400, f"workflow must be a workflow id (a number), got {workflow!r}")
        workflow_id = int(workflow)
    if state and state not in RunState.ALL:
        raise HTTPException(400, f"state must be one of {', '.join(RunState.ALL)}, got {state!r}")

    def day(name: str, text: str) -> date | None:
        if not text.strip():
            return None
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            raise HTTPException(
                400, f"{name} must be a date like 2025-01-31, got {text!r}"
            ) from None

    return RunFilters(
        workflow_id=workflow_id,
        state=state or None,
        since=day("since", since),
        until=day("until", until),
    )


@router.get("/runs", response_class=HTMLResponse)
def run_list(
    request: Request,
    session: DB,
    workflow: str = "",
    state: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
) -> HTMLResponse:
    filters = parse_filters(workflow, state, since, until)
    found = runs_page(session, filters, cursor=cursor or None, limit=PAGE_SIZE)
    context = {
        "page_runs": found,
        "filters": filters,
        "cursor": cursor,
        "states": RunState.ALL,
        "workflow_choices": workflow_choices(session),
        "snapshot": request.app.state.broadcaster.latest,
    }
    if hx_target(request) == "runs-table":
        return partial(request, "partials/_runs_table.html", context)
    return page(request, "runs/list.html", context)


def detail_context(session: Session, run_id: str) -> dict[str, Any]:
    detail = run_service.run_detail(session, run_id)
    graph_svg = ""
    if detail.checked is not None:
        graph_svg = render_graph(
            graph_of(detail.checked),
            states=detail.progress.node_states,
            dom_id=f"run-graph-{run_id}",
            title=f"Graph of {detail.run.workflow_name}",
        )
    return {
        "detail": detail,
        "run": detail.run,
        "progress": detail.progress,
        "graph_svg": graph_svg,
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, session: DB, run_id: str) -> HTMLResponse:
    context = detail_context(session, run_id)
    snapshot = request.app.state.broadcaster.latest
    context["snapshot_workers"] = snapshot.workers_alive if snapshot is not None else 0
    if hx_target(request) == "run-body":
        return partial(request, "partials/_run_body.html", context)
    return page(request, "runs/detail.html", context)


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, run_id: str) -> Response:
    await run_in_threadpool(run_service.cancel, session_factory_of(request), run_id)
    return redirect(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/retry", response_class=HTMLResponse)
async def retry(request: Request, run_id: str) -> Response:
    run = await run_in_threadpool(
        run_service.retry, settings_of(request), session_factory_of(request), run_id
    )
    return redirect(request, f"/runs/{run.id}")


@router.post("/runs/{run_id}/approve", response_class=HTMLResponse)
async def approve(
    request: Request,
    run_id: str,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await run_in_threadpool(
        lambda: run_service.decide(
            settings_of(request),
            session_factory_of(request),
            run_id,
            approved=decision == "approve",
            comment=comment,
        )
    )
    return redirect(request, f"/runs/{run_id}")
