"""Starting and steering runs: create the run row, enqueue it, cancel, retry, approve.

The dashboard, the JSON API, the CLI (`run --queue`), webhooks and schedules all start
runs through these functions, so every path gets the same validation and limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.storage.models import Run, RunState


class DispatchError(Exception):
    """A run cannot be started or changed; the message says why. ``status`` is the HTTP code."""

    status = 400


class RunNotFoundError(DispatchError):
    status = 404


class InvalidRunState(DispatchError):
    status = 409


@dataclass(frozen=True)
class Decision:
    """A human approval decision."""

    approved: bool
    comment: str = ""


def start_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    workflow_id: int,
    inputs: dict[str, Any],
    trigger: str = "api",
    version: int | None = None,
) -> Run:
    """Validate the inputs against the workflow's typed state, store a queued run, enqueue it."""
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import runs, workflows

    with session_scope(session_factory) as session:
        workflow = workflows.get(session, workflow_id)
        if workflow is None:
            raise RunNotFoundError(f"no workflow with id {workflow_id}")
        stored = workflows.get_version(session, workflow_id, version)
        if stored is None:
            raise RunNotFoundError(f"workflow {workflow.name} has no version {version}")
        run = runs.create(
            session,
            workflow_name=workflow.name,
            workflow_id=workflow.id,
            workflow_version_id=stored.id,
            inputs=inputs,
            trigger=trigger,
        )
    enqueue(settings, run.id)
    return run


def enqueue(settings: Settings, run_id: str) -> None:
    """Hand a stored run to the workers."""
    from configurable_agents.queue.huey_app import get_task

    get_task(settings, "execute_run")(run_id)


def cancel_run(session_factory: sessionmaker[Session], run_id: str) -> Run:
    """Cancel a queued or waiting run now; ask a running one to stop at its next step."""
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import runs

    with session_scope(session_factory) as session:
        try:
            return runs.request_cancel(session, _require(session, run_id))
        except runs.RunStateConflict as error:
            raise InvalidRunState(str(error)) from None


def retry_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: str,
    *,
    trigger: str = "retry",
) -> Run:
    """Start a new run of the same workflow version with the same inputs."""
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import runs

    with session_scope(session_factory) as session:
        old = _require(session, run_id)
        if old.state not in (RunState.FAILED, RunState.CANCELLED):
            raise InvalidRunState(
                f"only failed or cancelled runs can be retried; {run_id} is {old.state}"
            )
        run = runs.create(
            session,
            workflow_name=old.workflow_name,
            workflow_id=old.workflow_id,
            workflow_version_id=old.workflow_version_id,
            inputs=dict(old.inputs),
            trigger=trigger,
        )
    enqueue(settings, run.id)
    return run


def _require(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id}")
    return run


def decide_approval(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: str,
    decision: Decision,
    *,
    enqueue_run: bool = True,
) -> Run:
    """Record a person's decision on a paused run and queue it to go on (or let the caller
    execute it, as `configurable-agents approve` does)."""
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.repositories import steps

    with session_scope(session_factory) as session:
        run = _require(session, run_id)
        if run.state != RunState.AWAITING_APPROVAL:
            raise InvalidRunState(f"run {run_id} is {run.state}, not awaiting approval")
        waiting = steps.latest_waiting_step(session, run_id)
        if waiting is None:
            raise InvalidRunState(f"run {run_id} has no step waiting for approval")
        waiting.output = {"decision": {"approved": decision.approved, "comment": decision.comment}}
        run.state = RunState.QUEUED
    if enqueue_run:
        enqueue(settings, run_id)
    return run
