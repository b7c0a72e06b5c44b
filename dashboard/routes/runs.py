"""Run commands, from the run page's buttons and from the API: cancel, retry, approve or
reject. Starting is in routes/serve.py (the run API) and routes/workflows.py (the form)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import runs
from dashboard import run_service
from dashboard.deps import session_factory_of, settings_of
from dashboard.errors import DISPATCH
from dashboard.render import redirect
from dashboard.schemas import CONFLICT, ERRORS, DecisionIn, RunOut

router = APIRouter(responses=ERRORS)


def reload_run(request: Request, run_id: str) -> Run:
    """The run as stored now (after a command changed it in its own transaction)."""
    with session_scope(session_factory_of(request)) as session:
        return runs.require(session, run_id)


# --- the run page's buttons ----------------------------------------------------------------


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse, include_in_schema=False)
async def cancel(request: Request, run_id: str) -> Response:
    await run_in_threadpool(run_service.cancel, session_factory_of(request), run_id)
    return redirect(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/retry", response_class=HTMLResponse, include_in_schema=False)
async def retry(request: Request, run_id: str) -> Response:
    run = await run_in_threadpool(
        run_service.retry, settings_of(request), session_factory_of(request), run_id
    )
    return redirect(request, f"/runs/{run.id}")


@router.post("/runs/{run_id}/approve", response_class=HTMLResponse, include_in_schema=False)
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


# --- the API -------------------------------------------------------------------------------


@router.post(
    "/api/v1/runs/{run_id}/cancel",
    response_model=RunOut,
    tags=["runs"],
    responses={**CONFLICT, **DISPATCH},
)
async def cancel_run(request: Request, run_id: str) -> Any:
    """Cancel a queued or waiting run now; a running one stops at its next step."""
    await run_in_threadpool(run_service.cancel, session_factory_of(request), run_id)
    return await run_in_threadpool(reload_run, request, run_id)


@router.post(
    "/api/v1/runs/{run_id}/retry",
    response_model=RunOut,
    status_code=201,
    tags=["runs"],
    responses={**CONFLICT, **DISPATCH},
)
async def retry_run(request: Request, run_id: str) -> Any:
    """Start a new run with the same version and inputs as a failed or cancelled one."""
    return await run_in_threadpool(
        run_service.retry, settings_of(request), session_factory_of(request), run_id
    )


@router.post(
    "/api/v1/runs/{run_id}/approve",
    response_model=RunOut,
    tags=["runs"],
    responses={**CONFLICT, **DISPATCH},
)
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
    return await run_in_threadpool(reload_run, request, run_id)
