"""Orchestrator: queue depth and age of the oldest queued run, runs per worker, limits, and
runs dispatched to remote agents (a form generated from each agent's input schema)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.queue.errors import DispatchError
from dashboard.deps import db_session, session_factory_of, settings_of
from dashboard.render import page, redirect
from dashboard.system_view import facts_from_session
from dashboard.workflow_lang import as_input_fields, errors_by_input

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(db_session)]


def remote_forms(session: Session, agents: list[Any]) -> list[dict[str, Any]]:
    """A run form for each alive remote agent, from its published input schema."""
    from configurable_agents.queue.remote import form_fields

    forms = []
    for agent in agents:
        if agent.kind != "remote" or agent.liveness != "alive":
            continue
        try:
            fields = as_input_fields(form_fields(session, agent.name))
        except (DispatchError, ValueError) as error:
            # Died between the two reads, or its schema gives no valid form: say so.
            forms.append({"agent": agent, "fields": [], "problem": str(error)})
            continue
        forms.append({"agent": agent, "fields": fields})
    return forms


def orchestrator_context(
    request: Request,
    session: Session,
    *,
    failed_agent: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    facts = facts_from_session(session, settings_of(request))
    return {
        "facts": facts,
        "remote": remote_forms(session, facts.agents),
        "failed_agent": failed_agent,
        "agent_values": values or {},
        "agent_errors": errors or {},
    }


@router.get("/orchestrator", response_class=HTMLResponse)
def orchestrator_page(request: Request, session: DB) -> HTMLResponse:
    return page(request, "orchestrator.html", orchestrator_context(request, session))


@router.post("/orchestrator/agents/{name}/run", response_class=HTMLResponse)
async def dispatch_to_agent(request: Request, name: str) -> Response:
    from configurable_agents.queue.remote import dispatch_to_agent as dispatch
    from configurable_agents.storage.database import session_scope

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
        errors = errors_by_input(error.problems)

        def again() -> HTMLResponse:
            with session_scope(session_factory_of(request)) as session:
                context = orchestrator_context(
                    request, session, failed_agent=name, values=values, errors=errors
                )
                return page(request, "orchestrator.html", context, status_code=422)

        return await run_in_threadpool(again)
    return redirect(request, f"/runs/{run.id}")
