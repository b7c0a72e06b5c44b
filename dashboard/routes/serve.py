"""The run API: start a run of a workflow (by id or name) and answer at once, with its
outputs, or with its events; and any run's events, from its start, as server-sent events.

Off loopback (or with API_KEYS_REQUIRED) these need an API key or the dashboard's access
token (dashboard/routes/auth.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import runs
from dashboard import run_service
from dashboard.deps import session_factory_of, settings_of
from dashboard.live.feed import FeedHub, run_urls
from dashboard.schemas import ERRORS, ErrorOut, RunIn, RunStartedOut
from dashboard.serving import find_workflow, wait_settled

router = APIRouter(responses=ERRORS)

EVENTS_DESCRIPTION = (
    "Server-sent events, each with JSON data: `run_started` (run_id, workflow, state, inputs, "
    "urls), `step_started` (node, kind), `token` (node, text: the next piece of the node's "
    "answer), `step_finished` (seq, node, kind, state, outputs, tokens, cost, latency_ms, "
    "error), `awaiting_approval` (seq, node, message), `run_finished` (run_id, state, "
    "outputs, totals, error); then the stream ends. A comment line is sent every 15 s while "
    "nothing happens."
)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def hub_of(request: Request) -> FeedHub:
    """The process's feed hub (one feed per followed run)."""
    return request.app.state.feeds


def started_out(run: Run) -> dict[str, Any]:
    """The run as the run API answers it."""
    # Fields the page computes (tracking, timeline) keep their defaults here.
    stored = {k: getattr(run, k) for k in RunStartedOut.model_fields if hasattr(run, k)}
    data = RunStartedOut.model_validate(stored | {"urls": run_urls(run.id)})
    return data.model_dump(mode="json")


def event_stream(request: Request, run_id: str) -> StreamingResponse:
    """The run's events as an SSE response."""
    hub = hub_of(request)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        async for event in hub.events(run_id):
            yield b": keepalive\n\n" if event is None else event.sse()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


def _start(request: Request, workflow: str, body: RunIn) -> Run:
    session_factory = session_factory_of(request)
    with session_scope(session_factory) as session:
        workflow_id = find_workflow(session, workflow).id
    return run_service.start(
        settings_of(request),
        session_factory,
        workflow_id,
        body.inputs,
        version=body.version,
        trigger="api",
    )


@router.post(
    "/api/v1/workflows/{workflow}/runs",
    response_model=RunStartedOut,
    status_code=201,
    tags=["runs"],
    responses={
        200: {
            "model": RunStartedOut,
            "description": "sync: the run finished (or waits for approval)",
        },
        202: {
            "model": RunStartedOut,
            "description": "sync: still running after API_SYNC_WAIT_SECONDS",
        },
        429: {"model": ErrorOut, "description": "The queue is full"},
        201: {
            "description": "async: the run, queued; stream: its events (text/event-stream)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def start_run(request: Request, workflow: str, body: RunIn) -> Response:
    """Start a run of a workflow, named by id or name; inputs are checked against its typed
    fields. `mode`: `async` answers the queued run at once (201); `sync` waits up to
    API_SYNC_WAIT_SECONDS and answers the run with its outputs (200), or 202 with the run
    and its URLs when it takes longer; `stream` answers the run's events (see
    GET /api/v1/runs/{run_id}/events)."""
    run = await run_in_threadpool(_start, request, workflow, body)
    if body.mode == "stream":
        return event_stream(request, run.id)
    if body.mode == "sync":
        settled = await wait_settled(
            session_factory_of(request), run.id, settings_of(request).api_sync_wait_seconds
        )
        if settled is None:
            return JSONResponse(started_out(run), status_code=202)
        return JSONResponse(started_out(settled), status_code=200)
    return JSONResponse(started_out(run), status_code=201)


@router.get(
    "/api/v1/runs/{run_id}/events",
    tags=["runs"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": EVENTS_DESCRIPTION,
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def run_events(request: Request, run_id: str) -> StreamingResponse:
    """A run's events from its start: what already happened (from its stored steps), then
    live (tokens included) until it finishes."""
    await run_in_threadpool(_require_run, request, run_id)
    return event_stream(request, run_id)


def _require_run(request: Request, run_id: str) -> None:
    with session_scope(session_factory_of(request)) as session:
        runs.require(session, run_id)
