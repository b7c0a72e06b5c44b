"""GET /events/status: the live status stream (SSE), fed by the process's one status tick.

A page names the topics it shows (``?topics=home,status``; a run page adds ``?run=<id>``,
which also sends ``tokens`` events: JSON ``{"node", "text"}`` pieces of the running llm
steps' answers, from the run's feed, see feed.py).
Each new snapshot is rendered once per topic for every subscriber (see TopicRenderer), and
a subscriber is sent a topic only when its content differs from what it was sent last.
``?format=json`` sends the whole snapshot as JSON in ``status`` events instead (only when
it changed, as for the other topics).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from dashboard.live.feed import FeedHub
from dashboard.live.tick import StatusTick
from dashboard.live.topics import (
    DEFAULT_TOPICS,
    EXPERIMENT_TOPICS,
    PAGE_TOPICS,
    RUN_TOPICS,
    TopicRenderer,
    sse_event,
)

router = APIRouter()
# A comment line now and then keeps proxies and idle connections from timing out.
KEEPALIVE_SECONDS = 15.0


def parse_topics(topics: str, run: str | None, experiment: str | None = None) -> list[str]:
    """The requested topics, checked; a run id adds that run's progress topics, an
    experiment id that experiment's."""
    names = [name.strip() for name in topics.split(",") if name.strip()]
    if not names and not run and not experiment:
        names = list(DEFAULT_TOPICS)
    unknown = [name for name in names if name not in PAGE_TOPICS]
    if unknown:
        raise HTTPException(
            400, f"unknown topic {unknown[0]!r}; topics are {', '.join(sorted(PAGE_TOPICS))}"
        )
    if run:
        names += [name for name in RUN_TOPICS if name not in names]
    if experiment:
        if not experiment.isdigit() or len(experiment) > 18:
            raise HTTPException(400, f"experiment must be an experiment id, got {experiment!r}")
        names += [name for name in EXPERIMENT_TOPICS if name not in names]
    return names


@router.get("/events/status", include_in_schema=False)
async def status_stream(
    request: Request,
    format: str = "html",
    topics: str = "",
    run: str | None = None,
    experiment: str | None = None,
) -> StreamingResponse:
    tick: StatusTick = request.app.state.tick
    renderer: TopicRenderer = request.app.state.topic_renderer
    watchlist = request.app.state.watchlist
    # JSON clients (the CLI, tests, other programs) get every snapshot whole.
    names = parse_topics(topics, run, experiment) if format != "json" else ["json"]
    experiments_followed = request.app.state.experiment_watchlist
    queue = tick.subscribe()
    if run:
        watchlist.add(run)
    if experiment and format != "json":
        experiments_followed.add(experiment)
    # A run page also gets the tokens of the run's running steps, merged into this stream.
    tokens: asyncio.Queue[bytes] | None = asyncio.Queue() if run else None
    forward = (
        asyncio.create_task(forward_tokens(request.app.state.feeds, run, tokens))
        if run and tokens is not None
        else None
    )

    async def stream() -> AsyncIterator[bytes]:
        sent: dict[str, str] = {}
        try:
            yield b"retry: 2000\n\n"
            while True:
                try:
                    # asyncio.timeout, not wait_for: no extra task per wake-up, which adds
                    # up with a thousand subscribers woken at once.
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        if tokens is None:
                            snapshot = await queue.get()
                        else:
                            found = await next_of(queue, tokens)
                            if isinstance(found, bytes):
                                yield found
                                continue
                            snapshot = found
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                chunks = []
                for name in names:
                    subject = experiment if name in EXPERIMENT_TOPICS else run
                    found = renderer.event(snapshot, name, subject)
                    if found is None:
                        continue
                    payload, encoded = found
                    previous = sent.get(name)
                    # Same object: the same snapshot's rendering; equal text: nothing changed.
                    if previous is not payload and previous != payload:
                        chunks.append(encoded)
                    sent[name] = payload
                if chunks:
                    yield b"".join(chunks)
        finally:
            tick.unsubscribe(queue)
            if run:
                watchlist.remove(run)
            if experiment and format != "json":
                experiments_followed.remove(experiment)
            if forward is not None:
                forward.cancel()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def next_of(snapshots: asyncio.Queue[Any], tokens: asyncio.Queue[bytes]) -> Any:
    """Whichever comes first: a token event (bytes, preferred) or a snapshot."""
    if not tokens.empty():
        return tokens.get_nowait()
    get_snapshot = asyncio.ensure_future(snapshots.get())
    get_tokens = asyncio.ensure_future(tokens.get())
    try:
        done, _ = await asyncio.wait(
            {get_snapshot, get_tokens}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (get_snapshot, get_tokens):
            if not task.done():
                task.cancel()
    if get_tokens in done:
        if get_snapshot in done and snapshots.empty():
            # Both arrived: keep the snapshot for the next call (unless a newer one is there).
            snapshots.put_nowait(get_snapshot.result())
        return get_tokens.result()
    return get_snapshot.result()


async def forward_tokens(hub: FeedHub, run_id: str, out: asyncio.Queue[bytes]) -> None:
    """Put the run's token events on ``out`` as SSE ``tokens`` events until it finishes."""
    async for event in hub.events(run_id):
        if event is not None and event.name == "token":
            out.put_nowait(sse_event("tokens", json.dumps(event.data)).encode())


def stream_stats(request: Request) -> dict[str, Any]:
    """How many browsers listen and how many snapshots were taken (the Settings page shows it)."""
    tick: StatusTick = request.app.state.tick
    return {
        "subscribers": tick.subscriber_count,
        "snapshots_taken": tick.reads,
        "tick_seconds": tick.seconds,
    }
