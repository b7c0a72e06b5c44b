"""GET /events/status: the live status stream (SSE), fed by the process's one broadcaster."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

router = APIRouter()
# A comment line now and then keeps proxies and idle connections from timing out.
KEEPALIVE_SECONDS = 15.0


def sse_event(event: str, data: str) -> str:
    """One SSE event; every line of a multi-line payload gets its own data: field."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


@router.get("/events/status", include_in_schema=False)
async def status_stream(request: Request, format: str = "html") -> StreamingResponse:
    broadcaster = request.app.state.broadcaster
    templates = request.app.state.templates
    queue = broadcaster.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    snapshot = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if format == "json":
                    yield sse_event("status", json.dumps(snapshot.as_dict()))
                else:
                    html = templates.get_template("partials/_status.html").render(
                        snapshot=snapshot, settings=request.app.state.settings
                    )
                    yield sse_event("status", html)
        finally:
            broadcaster.unsubscribe(queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
