"""A run's events as they happen: run_started, step_started, token, step_finished,
awaiting_approval, run_finished; for the run API's stream mode, GET /api/v1/runs/{id}/events,
/v1/chat/completions streaming and the run page's live tokens.

One ``RunFeed`` per run that someone in this process follows: it reads the run, its new
steps and its steps' partial text (``step_partials``, written by the executing process
while a watch lease is live, see configurable_agents.engine.live_tokens) every
``POLL_SECONDS`` while the run is queued or runs, and keeps the watch lease alive. Every follower has
its own ``Cursor`` over the feed's latest ``FeedState``: a follower that joins late gets
what already happened (from the stored steps) and then the live part, from the same reads.
A run nobody follows has no feed, no lease and no reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, RunStep
from configurable_agents.storage.repositories import live
from configurable_agents.storage.repositories import steps as step_states
from configurable_agents.storage.states import RunState
from dashboard import queries

log = logging.getLogger(__name__)

# How often a running run is read while followed (tokens are published every ~100 ms).
POLL_SECONDS = 0.02
# A queued or paused run changes rarely: read it less often.
IDLE_POLL_SECONDS = 0.25
# The watch lease: renewed every third of it while the feed lives.
LEASE_SECONDS = 15.0

EVENT_NAMES = (
    "run_started",
    "step_started",
    "token",
    "step_finished",
    "awaiting_approval",
    "run_finished",
)


@dataclass(frozen=True)
class RunEvent:
    """One event of a run's stream."""

    name: str
    data: dict[str, Any]

    def sse(self) -> bytes:
        """The event as server-sent-event bytes (JSON data on one line)."""
        import json

        return f"event: {self.name}\ndata: {json.dumps(self.data, default=str)}\n\n".encode()


@dataclass(frozen=True)
class Partial:
    """A running step's text so far, as the executing process last published it."""

    node: str
    started_at: datetime
    text: str


@dataclass
class FeedState:
    """What the feed read last: the run, every step stored so far, the partial texts."""

    run: dict[str, Any] | None = None
    steps: dict[int, dict[str, Any]] = field(default_factory=dict)
    partials: list[Partial] = field(default_factory=list)
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.run is not None and self.run["state"] in RunState.FINISHED


def run_facts(run: Run) -> dict[str, Any]:
    """The run as its events describe it."""
    return {
        "id": run.id,
        "workflow": run.workflow_name,
        "workflow_id": run.workflow_id,
        "state": run.state,
        "inputs": run.inputs,
        "outputs": run.outputs,
        "total_tokens": run.total_tokens,
        "total_cost": run.total_cost,
        "error_type": run.error_type,
        "error_message": run.error_message,
    }


def step_facts(step: RunStep) -> dict[str, Any]:
    """A stored step as its events describe it."""
    return {
        "seq": step.seq,
        "node": step.node,
        "kind": step.kind,
        "state": step.state,
        "input": step.input,
        "raw_output": step.raw_output,
        "outputs": step.output,
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "cost": step.cost,
        "latency_ms": round(step.latency_ms, 2),
        "error_type": step.error_type,
        "error_message": step.error_message,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
    }


def read_state(session: Session, run_id: str, previous: FeedState) -> FeedState:
    """The run, its steps (re-reading only new ones and ones waiting for a decision) and
    its partial texts. The run is read first: a run read as finished has all its steps."""
    run = session.get(Run, run_id)
    if run is None:
        return FeedState(version=previous.version + 1)
    facts = run_facts(run)
    settled = [seq for seq, s in previous.steps.items() if s["state"] != "awaiting_approval"]
    floor = max(settled, default=0)
    # Steps above the floor, plus any earlier one still waiting for a decision.
    waiting = [s for s, v in previous.steps.items() if v["state"] == "awaiting_approval"]
    first = min([floor + 1, *waiting])
    rows = queries.steps_from(session, run_id, first)
    steps = dict(previous.steps)
    for row in rows:
        steps[row.seq] = step_facts(row)
    partials = [
        Partial(row.node, row.started_at, row.text) for row in live.partials(session, [run_id])
    ]
    return FeedState(run=facts, steps=steps, partials=partials, version=previous.version + 1)


class RunFeed:
    """Reads one run for all its followers in this process while it has any."""

    def __init__(self, hub: FeedHub, run_id: str) -> None:
        self.hub = hub
        self.run_id = run_id
        self.state = FeedState()
        self.changed = asyncio.Condition()
        self.followers = 0
        self.reads = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"run-feed-{self.run_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await asyncio.to_thread(self._unwatch)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        renewed = float("-inf")
        while True:
            try:
                if loop.time() - renewed >= LEASE_SECONDS / 3:
                    await asyncio.to_thread(self._watch)
                    renewed = loop.time()
                state = await asyncio.to_thread(self._read)
                async with self.changed:
                    self.state = state
                    self.changed.notify_all()
                if state.finished or state.run is None:
                    return
                # A queued run is about to start: its first token must not wait for a slow poll.
                running = state.run["state"] in (RunState.QUEUED, RunState.RUNNING)
            except Exception:  # keep following; the next read may work
                log.exception("reading run %s for its followers failed", self.run_id)
                running = False
            await asyncio.sleep(POLL_SECONDS if running else IDLE_POLL_SECONDS)

    async def next_state(self, seen: int, timeout: float) -> FeedState | None:
        """The latest state once it is newer than version ``seen`` (None after ``timeout``)."""
        async with self.changed:
            if self.state.version == seen:
                try:
                    async with asyncio.timeout(timeout):
                        await self.changed.wait_for(lambda: self.state.version != seen)
                except TimeoutError:
                    return None
            return self.state

    def _read(self) -> FeedState:
        self.reads += 1
        with self.hub.session_factory() as session:
            return read_state(session, self.run_id, self.state)

    def _watch(self) -> None:
        with session_scope(self.hub.session_factory) as session:
            if session.get(Run, self.run_id) is not None:
                live.watch(session, [self.run_id], LEASE_SECONDS)

    def _unwatch(self) -> None:
        # Another process may follow too: let the lease run out instead of deleting it
        # when this feed ends early; a finished run's lease goes now.
        if self.state.finished:
            with session_scope(self.hub.session_factory) as session:
                live.unwatch(session, [self.run_id])


class FeedHub:
    """The feeds of this process, one per followed run; a feed ends with its last follower."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self.feeds: dict[str, RunFeed] = {}

    @contextlib.asynccontextmanager
    async def follow(self, run_id: str) -> AsyncIterator[RunFeed]:
        """The run's feed while the caller follows it."""
        feed = self.feeds.get(run_id)
        if feed is None:
            feed = self.feeds[run_id] = RunFeed(self, run_id)
        feed.followers += 1
        feed.start()
        try:
            yield feed
        finally:
            feed.followers -= 1
            if feed.followers == 0 and self.feeds.get(run_id) is feed:
                del self.feeds[run_id]
                await feed.stop()

    async def events(
        self, run_id: str, *, keepalive: float = 15.0
    ) -> AsyncIterator[RunEvent | None]:
        """The run's events from its start until it finishes (what already happened first);
        None when nothing happened for ``keepalive`` seconds (the caller sends a keepalive)."""
        async with self.follow(run_id) as feed:
            cursor = Cursor()
            seen = 0  # version 0 is the empty state before the first read
            while not cursor.done:
                state = await feed.next_state(seen, keepalive)
                if state is None:
                    yield None
                    continue
                seen = state.version
                if state.run is None:
                    return  # the run was deleted
                for event in cursor.advance(state):
                    yield event


@dataclass
class Cursor:
    """What one follower was sent; turns each new FeedState into the events it has not had."""

    started: bool = False
    done: bool = False
    # Steps sent as finished, and steps sent as waiting for a decision.
    finished: set[int] = field(default_factory=set)
    waiting: set[int] = field(default_factory=set)
    # Text sent per execution (node, partial start) and the executions announced.
    sent: dict[tuple[str, datetime], str] = field(default_factory=dict)
    announced: set[tuple[str, datetime]] = field(default_factory=set)

    def advance(self, state: FeedState) -> list[RunEvent]:
        """The events between what was sent and this state."""
        events: list[RunEvent] = []
        run = state.run
        if run is None:
            return events
        if not self.started:
            self.started = True
            events.append(RunEvent("run_started", _run_started(run)))
        for seq in sorted(state.steps):
            step = state.steps[seq]
            if seq in self.finished:
                continue
            execution = _execution_of(step, state.partials, self.announced)
            if seq not in self.waiting:
                if execution is None or execution not in self.announced:
                    events.append(RunEvent("step_started", _step_started(step)))
                if execution is not None:
                    self.announced.add(execution)
            if step["state"] == step_states.AWAITING_APPROVAL:
                if seq not in self.waiting:
                    self.waiting.add(seq)
                    events.append(RunEvent("awaiting_approval", _awaiting(step)))
                continue
            text = step["raw_output"] or ""
            sent = self.sent.get(execution, "") if execution else ""
            if step["kind"] == "llm" and text.startswith(sent) and len(text) > len(sent):
                events.append(RunEvent("token", {"node": step["node"], "text": text[len(sent) :]}))
            self.finished.add(seq)
            events.append(RunEvent("step_finished", _step_finished(step)))
        stored = list(state.steps.values())
        for partial in state.partials:
            execution = (partial.node, partial.started_at)
            if any(_within(partial, step) for step in stored):
                continue  # that execution's step is stored: handled above
            if execution not in self.announced:
                self.announced.add(execution)
                events.append(RunEvent("step_started", {"node": partial.node, "kind": "llm"}))
            sent = self.sent.get(execution, "")
            if partial.text.startswith(sent) and len(partial.text) > len(sent):
                events.append(
                    RunEvent("token", {"node": partial.node, "text": partial.text[len(sent) :]})
                )
                self.sent[execution] = partial.text
        if state.finished:
            self.done = True
            events.append(RunEvent("run_finished", _run_finished(run)))
        return events


def _within(partial: Partial, step: dict[str, Any]) -> bool:
    finished = step["finished_at"]
    return (
        step["node"] == partial.node
        and step["started_at"] <= partial.started_at
        and (finished is None or partial.started_at <= finished)
    )


def _execution_of(
    step: dict[str, Any], partials: list[Partial], announced: set[tuple[str, datetime]]
) -> tuple[str, datetime] | None:
    """The execution (node, partial start) a stored step was, from the partial rows or, once
    the run ended and they were cleared, from the executions already announced."""
    for partial in partials:
        if _within(partial, step):
            return (partial.node, partial.started_at)
    for node, started_at in announced:
        if _within(Partial(node, started_at, ""), step):
            return (node, started_at)
    return None


def _run_started(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run["id"],
        "workflow": run["workflow"],
        "state": run["state"],
        "inputs": run["inputs"],
        "urls": run_urls(run["id"]),
    }


def _step_started(step: dict[str, Any]) -> dict[str, Any]:
    return {"node": step["node"], "kind": step["kind"], "seq": step["seq"]}


def _step_finished(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": step["seq"],
        "node": step["node"],
        "kind": step["kind"],
        "state": step["state"],
        "outputs": step["outputs"],
        "tokens": {
            "prompt": step["prompt_tokens"],
            "completion": step["completion_tokens"],
            "total": step["prompt_tokens"] + step["completion_tokens"],
        },
        "cost": step["cost"],
        "latency_ms": step["latency_ms"],
        "error": (
            {"type": step["error_type"], "message": step["error_message"]}
            if step["error_type"] or step["error_message"]
            else None
        ),
    }


def _awaiting(step: dict[str, Any]) -> dict[str, Any]:
    message = (step["input"] or {}).get("message", "")
    return {"seq": step["seq"], "node": step["node"], "message": message}


def _run_finished(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run["id"],
        "state": run["state"],
        "outputs": run["outputs"],
        "totals": {"tokens": run["total_tokens"], "cost": run["total_cost"]},
        "error": (
            {"type": run["error_type"], "message": run["error_message"]}
            if run["error_type"] or run["error_message"]
            else None
        ),
    }


def run_urls(run_id: str) -> dict[str, str]:
    """Where to look at a run: its page, its JSON and its events."""
    return {
        "page": f"/runs/{run_id}",
        "run": f"/api/v1/runs/{run_id}",
        "events": f"/api/v1/runs/{run_id}/events",
    }
