"""Webhooks: POST /api/v1/hooks/{workflow} starts a run, signed with HMAC-SHA256.

The checks and answers are in configurable_agents.queue.triggers (see its docstring for
the headers and statuses); this module reads the body within WEBHOOK_MAX_BYTES. Needs
only ``app.state.settings`` and ``app.state.database``. The signature is the
authentication: include this router without the dashboard's CSRF check and leave its
path open in the access-token middleware.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from configurable_agents.queue.triggers import (
    handle_webhook,
    refused_webhooks,
    too_large,
    webhook_deliveries,
)
from dashboard.errors import DISPATCH

router = APIRouter(prefix="/api/v1", tags=["triggers"])
PATH_PREFIX = "/api/v1/hooks/"


def authenticates_itself(method: str, path: str) -> bool:
    """Whether a request is checked here (by its signature), not by the dashboard's token."""
    return method == "POST" and path.startswith(PATH_PREFIX)


@router.get("/hooks")
async def list_webhooks(request: Request, workflow: str | None = None) -> JSONResponse:
    """Webhook deliveries: the latest stored ones, and the refused ones counted per workflow
    and reason (forged, unsigned, oversized or to an unknown name; ``"workflow": null``
    counts names that are not stored)."""
    session_factory = request.app.state.database.session_factory
    refused = await run_in_threadpool(refused_webhooks, session_factory, workflow)
    deliveries = await run_in_threadpool(webhook_deliveries, session_factory, workflow)
    return JSONResponse({"refused": refused, "deliveries": deliveries})


@router.post(
    "/hooks/{workflow}",
    status_code=202,
    responses={
        **DISPATCH,
        200: {"description": "A repeat of a delivery id: nothing started"},
        400: {"description": "No X-Delivery-Id, or a body that is not JSON"},
        401: {"description": "Missing or wrong X-Signature-256"},
        403: {"description": "Webhooks are off: no signing secret configured"},
        404: {"description": "No workflow of that name"},
        413: {"description": "Body larger than WEBHOOK_MAX_BYTES"},
        429: {"description": "The queue is full (QUEUE_MAX_DEPTH)"},
    },
)
async def receive_webhook(request: Request, workflow: str) -> JSONResponse:
    """Start a run of ``workflow`` from a signed delivery (once per X-Delivery-Id)."""
    settings = request.app.state.settings
    session_factory = request.app.state.database.session_factory
    limit = settings.webhook_max_bytes
    declared = request.headers.get("content-length", "")
    body = bytearray()
    if not (declared.isdigit() and int(declared) > limit):
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                break
    if len(body) > limit or (declared.isdigit() and int(declared) > limit):
        answer = await run_in_threadpool(too_large, settings, session_factory, workflow)
    else:
        answer = await run_in_threadpool(
            handle_webhook, settings, session_factory, workflow, bytes(body), request.headers
        )
    return JSONResponse(answer.body, status_code=answer.status)
