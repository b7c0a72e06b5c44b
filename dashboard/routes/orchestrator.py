"""Orchestrator commands: dispatch a run to a remote agent from its generated form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.queue.remote import dispatch_to_agent as dispatch
from configurable_agents.storage.database import session_scope
from dashboard.deps import session_factory_of, settings_of
from dashboard.pages.orchestrator import latest_resources, orchestrator_context
from dashboard.render import page, redirect
from dashboard.workflow_lang import errors_by_input

router = APIRouter(include_in_schema=False)


@router.post("/orchestrator/agents/{name}/run", response_class=HTMLResponse)
async def dispatch_to_agent(request: Request, name: str) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        run = await run_in_threadpool(
            dispatch,
            settings_of(request),
            session_factory_of(request),
            name,
            values,
            trigger="dashboard",
        )
    except InvalidInputsError as error:
        # The form again, with each input's problem beside it (not an error page).
        errors = errors_by_input(error.problems)

        def again() -> HTMLResponse:
            with session_scope(session_factory_of(request)) as session:
                context = orchestrator_context(
                    session,
                    settings_of(request),
                    latest_resources(request),
                    failed_agent=name,
                    values=values,
                    errors=errors,
                )
                return page(request, "orchestrator.html", context, status_code=422)

        return await run_in_threadpool(again)
    return redirect(request, f"/runs/{run.id}")
