"""Remote agents over the JSON API: register, heartbeat, leave, list, dispatch a run.

The protocol is described in configurable_agents.engine.remote_agents. Registration
answers a token once; the agent authenticates its heartbeats and its leaving with
``Authorization: Bearer <token>`` (only a hash is stored). Needs only
``app.state.settings`` and ``app.state.database``. The heartbeat and leave routes check
the agent's own token: leave ``/api/v1/agents/{id}/heartbeat`` open in the dashboard's
access-token middleware so agents need not know the dashboard's token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from configurable_agents.queue.errors import REFUSALS, http_status
from configurable_agents.queue.remote import (
    agent_json,
    dispatch_to_agent,
    form_fields,
    register_remote_agent,
)
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import agents
from dashboard.errors import DISPATCH

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
PATH_PREFIX = "/api/v1/agents/"


def authenticates_itself(method: str, path: str) -> bool:
    """Whether a request is checked here (by the agent's own token), not by the dashboard's:
    a remote agent's heartbeat and its leaving."""
    if not path.startswith(PATH_PREFIX):
        return False
    return (method == "POST" and path.endswith("/heartbeat")) or method == "DELETE"


class RegisterIn(BaseModel):
    """A remote agent announcing itself."""

    name: Annotated[str, Field(min_length=1, max_length=64, examples=["remote-summarizer"])]
    url: Annotated[str, Field(min_length=8, max_length=2000, examples=["http://10.0.0.5:8000"])]
    ttl_seconds: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 1
    version: Annotated[str, Field(max_length=50)] = ""


class HeartbeatIn(BaseModel):
    runs_in_progress: Annotated[int | None, Field(ge=0)] = None


class DispatchIn(BaseModel):
    """Inputs for the agent, named as in its input schema."""

    inputs: dict[str, Any] = {}


def _error(error: Exception) -> JSONResponse:
    body: dict[str, Any] = {"detail": str(error)}
    problems = getattr(error, "problems", None)
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=http_status(error))


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def _session_factory(request: Request) -> Any:
    return request.app.state.database.session_factory


@router.post("/register", status_code=201, responses=DISPATCH)
async def register(request: Request, body: RegisterIn) -> Response:
    """Fetch the agent's input schema from ``<url>/schema`` and register it; the answer
    holds its token, shown only this once."""
    try:
        registered = await run_in_threadpool(
            register_remote_agent,
            _session_factory(request),
            name=body.name,
            url=body.url,
            ttl_seconds=body.ttl_seconds,
            concurrency=body.concurrency,
            version=body.version,
        )
    except REFUSALS as error:
        return _error(error)
    out = agent_json(registered.agent, "alive")
    out["token"] = registered.token
    return JSONResponse(out, status_code=201)


def _authenticated(request: Request, agent_id: str) -> Any:
    """The agent when the bearer token is its own; None otherwise."""
    with request.app.state.database.session_factory() as session:
        return agents.verify_token(session, agent_id, _token(request))


_UNAUTHORISED = {"detail": "unknown agent or wrong token (send Authorization: Bearer <token>)"}


@router.post("/{agent_id}/heartbeat")
def heartbeat(request: Request, agent_id: str, body: HeartbeatIn | None = None) -> Response:
    """Mark the agent alive for another TTL."""
    if _authenticated(request, agent_id) is None:
        return JSONResponse(_UNAUTHORISED, status_code=401)
    with session_scope(_session_factory(request)) as session:
        agent = agents.heartbeat(
            session, agent_id, runs_in_progress=body.runs_in_progress if body else None
        )
        out = agent_json(agent, agents.liveness(agent))
    return JSONResponse(out)


@router.delete("/{agent_id}", status_code=204)
def leave(request: Request, agent_id: str) -> Response:
    """The agent stops: it is dead from now on and gets no more runs."""
    if _authenticated(request, agent_id) is None:
        return JSONResponse(_UNAUTHORISED, status_code=401)
    with session_scope(_session_factory(request)) as session:
        agents.deregister(session, agent_id)
    return Response(status_code=204)


@router.get("/remote")
def list_remote(request: Request, include_dead: bool = False) -> Response:
    """Registered remote agents with alive/stale/dead and their input schemas."""
    with _session_factory(request)() as session:
        statuses = agents.list_with_liveness(session, kind=agents.REMOTE, include_dead=include_dead)
        out = [agent_json(status.agent, status.liveness) for status in statuses]
    return JSONResponse(out)


@router.get("/remote/{name}/form", responses=DISPATCH)
def form(request: Request, name: str) -> Response:
    """The typed inputs of an alive agent, as a run form needs them."""
    try:
        with _session_factory(request)() as session:
            fields = form_fields(session, name)
    except REFUSALS as error:
        return _error(error)
    return JSONResponse(
        [
            {
                "name": f.name,
                "type": f.type,
                "required": f.required,
                "default": f.default,
                "description": f.description,
                "values": f.values,
                "json_schema": f.json_schema,
            }
            for f in fields
        ]
    )


@router.post("/{name}/runs", status_code=202, responses=DISPATCH)
def dispatch(request: Request, name: str, body: DispatchIn) -> Response:
    """Queue a run that hands the inputs to the alive agent ``name``."""
    try:
        run = dispatch_to_agent(
            request.app.state.settings, _session_factory(request), name, body.inputs, trigger="api"
        )
    except REFUSALS as error:
        return _error(error)
    return JSONResponse(
        {"run_id": run.id, "state": run.state, "agent": name, "workflow": run.workflow_name},
        status_code=202,
    )
