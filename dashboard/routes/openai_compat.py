"""OpenAI-compatible endpoints: every workflow is a model named ``workflow/<name>``.

POST /v1/chat/completions runs the workflow: the last user message fills its one input (or,
for several, is a JSON object of inputs); the answer is its text output (or its outputs as
JSON). ``stream: true`` sends chunks as the node writing the answer produces tokens. Usage
counts every step of the run. GET /v1/models lists the workflows.

Errors answer in OpenAI's shape (``{"error": {"message", "type", "code"}}``) so any OpenAI
client reports them as such.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.queue.errors import REFUSALS, http_status
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import NotFoundError
from configurable_agents.storage.models import Run
from configurable_agents.storage.states import RunState
from dashboard import run_service
from dashboard.deps import session_factory_of, settings_of
from dashboard.serving import (
    ServedWorkflow,
    last_user_text,
    run_usage,
    served_models,
    served_workflow,
    wait_settled,
)

router = APIRouter(prefix="/v1", tags=["openai"])


class ChatCompletionIn(BaseModel):
    """The parts of an OpenAI chat completion request a workflow uses (others are ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="`workflow/<name>`")
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False


def openai_error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    """An error as OpenAI's API spells it."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
    )


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """Every workflow as a model, ``workflow/<name>``."""

    def read() -> list[dict[str, Any]]:
        with session_scope(session_factory_of(request)) as session:
            return served_models(session)

    return {"object": "list", "data": await run_in_threadpool(read)}


def _prepare(request: Request, body: ChatCompletionIn) -> tuple[ServedWorkflow, Run]:
    session_factory = session_factory_of(request)
    with session_scope(session_factory) as session:
        workflow = served_workflow(session, body.model)
    inputs = workflow.inputs_from(last_user_text(body.messages))
    run = run_service.start(
        settings_of(request), session_factory, workflow.workflow_id, inputs, trigger="openai"
    )
    return workflow, run


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        400: {"description": "The message does not fit the workflow's inputs"},
        404: {"description": "No workflow of that model name (`workflow/<name>`)"},
        409: {"description": "The run waits for a person's approval"},
        429: {"description": "The queue is full (QUEUE_MAX_DEPTH)"},
        500: {"description": "The run failed"},
        503: {"description": "The queue cannot be reached"},
    },
)
async def chat_completions(request: Request, body: ChatCompletionIn) -> Response:
    """Run the workflow the model names; answer its output as a chat completion."""
    try:
        workflow, run = await run_in_threadpool(_prepare, request, body)
    except NotFoundError as error:
        return openai_error(
            404,
            f"{error}; models are `workflow/<name>`",
            "invalid_request_error",
            "model_not_found",
        )
    except InvalidInputsError as error:
        return openai_error(400, str(error), "invalid_request_error", "invalid_inputs")
    except REFUSALS as error:
        return openai_error(http_status(error), str(error), "server_error", "run_not_started")
    completion_id = f"chatcmpl-{run.id}"
    if body.stream:
        return StreamingResponse(
            _chunks(request, workflow, run.id, completion_id, body.model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    settings = settings_of(request)
    settled = await wait_settled(
        session_factory_of(request), run.id, settings.api_sync_wait_seconds
    )
    if settled is None:
        return openai_error(
            504,
            f"run {run.id} is still running after API_SYNC_WAIT_SECONDS="
            f"{settings.api_sync_wait_seconds:g}; follow it at /api/v1/runs/{run.id}",
            "timeout",
        )
    failure = _failure(settled)
    if failure is not None:
        return failure
    prompt, completion = await run_in_threadpool(run_usage, session_factory_of(request), run.id)
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": workflow.answer(settled.outputs)},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(prompt, completion),
        }
    )


def _failure(run: Run) -> JSONResponse | None:
    """An error answer for a run that did not complete (None when it did)."""
    if run.state == RunState.COMPLETED:
        return None
    if run.state == RunState.AWAITING_APPROVAL:
        return openai_error(
            409,
            f"run {run.id} waits for a person's approval: decide at /runs/{run.id}",
            "awaiting_approval",
        )
    return openai_error(
        500, f"run {run.id} {run.state}: {run.error_type}: {run.error_message}", "run_failed"
    )


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(
    completion_id: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> bytes:
    data = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _chunks(
    request: Request, workflow: ServedWorkflow, run_id: str, completion_id: str, model: str
) -> AsyncIterator[bytes]:
    """The completion as chunks: the answer node's tokens as they come, else the whole
    answer at the end; the last chunk carries the usage."""
    yield _chunk(completion_id, model, {"role": "assistant", "content": ""})
    streamed = False
    async for event in request.app.state.feeds.events(run_id):
        if event is None:
            yield b": keepalive\n\n"
            continue
        if event.name == "token" and event.data["node"] == workflow.answer_node:
            streamed = True
            yield _chunk(completion_id, model, {"content": event.data["text"]})
        elif event.name == "awaiting_approval":
            message = f"run {run_id} waits for a person's approval: decide at /runs/{run_id}"
            yield _error_chunk(message, "awaiting_approval")
            return
        elif event.name == "run_finished":
            if event.data["state"] != RunState.COMPLETED:
                error = event.data.get("error") or {}
                message = f"run {run_id} {event.data['state']}: {error.get('type')}: {error.get('message')}"
                yield _error_chunk(message, "run_failed")
                return
            if not streamed:
                answer = workflow.answer(event.data["outputs"])
                yield _chunk(completion_id, model, {"content": answer})
            prompt, completion = await run_in_threadpool(
                run_usage, session_factory_of(request), run_id
            )
            yield _chunk(completion_id, model, {}, "stop", usage=_usage(prompt, completion))
            yield b"data: [DONE]\n\n"
            return


def _error_chunk(message: str, kind: str) -> bytes:
    return f"data: {json.dumps({'error': {'message': message, 'type': kind}})}\n\n".encode()
