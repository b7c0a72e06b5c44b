"""Starting and steering runs: create the run row, enqueue it, cancel, retry, approve.

The dashboard, the JSON API, the CLI (`run --queue`), webhooks, schedules and remote-agent
dispatch all start runs through these functions, so every path gets the same validation
and limits. Starting returns at once with the run in state queued; a worker executes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.config.inputs import input_problems
from configurable_agents.queue.configs import config_of
from configurable_agents.queue.errors import (
    DispatchError,
    QueueConfigError,
    QueueFullError,
    QueueUnavailableError,
)
from configurable_agents.queue.huey_app import RESUME_PRIORITY, get_queue
from configurable_agents.queue.limits import check_queue_depth
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import redact_url, session_scope
from configurable_agents.storage.errors import (
    IllegalTransitionError,
    WorkflowNotFoundError,
    WorkflowVersionNotFoundError,
)
from configurable_agents.storage.models import Run, RunState, Workflow, WorkflowVersion
from configurable_agents.storage.repositories import run_events, runs, steps, workflows

__all__ = [
    "Decision",
    "DispatchError",
    "QueueFullError",
    "QueueUnavailableError",
    "cancel_run",
    "check_room",
    "decide_approval",
    "enqueue",
    "retry_run",
    "start_run",
]

log = logging.getLogger(__name__)


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
    """Check the inputs against the workflow's typed state, store a queued run, enqueue it.

    Raises WorkflowNotFoundError or WorkflowVersionNotFoundError (404), ConfigError when
    the stored version no longer validates, InvalidInputsError (422), QueueFullError (429)
    or QueueUnavailableError (503).
    """

    with session_scope(session_factory) as session:
        workflow = workflows.get(session, workflow_id)
        if workflow is None:
            raise WorkflowNotFoundError(f"no workflow with id {workflow_id}")
        stored = workflows.get_version(session, workflow_id, version)
        if stored is None:
            raise WorkflowVersionNotFoundError(f"workflow {workflow.name} has no version {version}")
        run = create_checked_run(session, settings, workflow, stored, inputs, trigger)
    enqueue_new(settings, session_factory, run)
    return run


def create_checked_run(
    session: Session,
    settings: Settings,
    workflow: Workflow,
    version: WorkflowVersion,
    inputs: dict[str, Any],
    trigger: str,
) -> Run:
    """Store a queued run once its inputs fit and the queue has room (not enqueued yet)."""

    check_inputs(version, inputs)
    check_queue_depth(session, settings)
    return run_lifecycle.create(
        session,
        workflow_name=workflow.name,
        workflow_id=workflow.id,
        workflow_version_id=version.id,
        inputs=inputs,
        trigger=trigger,
    )


def check_inputs(version: WorkflowVersion, inputs: dict[str, Any]) -> None:
    """Raise InvalidInputsError listing every input that does not fit the version's state
    (ConfigError when the stored version no longer validates)."""

    config = config_of(version)
    _, problems = input_problems(config, inputs)
    if problems:
        raise InvalidInputsError(problems)


def check_room(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    """Raise QueueFullError (429) when one more queued run would pass QUEUE_MAX_DEPTH.

    For callers that create the run row themselves (the CLI) before calling :func:`enqueue`.
    """

    with session_factory() as session:
        check_queue_depth(session, settings)


def enqueue(settings: Settings, run_id: str, *, priority: int | None = None) -> None:
    """Hand a stored run to the workers; QueueUnavailableError when the queue is down."""

    try:
        queue = get_queue(settings)
        queue.huey.enqueue(queue.execute_run.s(run_id, priority=priority))
    except QueueConfigError as error:
        raise QueueUnavailableError(str(error)) from None
    except Exception as error:  # redis.ConnectionError, sqlite3.OperationalError ...
        raise QueueUnavailableError(
            f"the queue at {_redacted(settings.effective_queue_url)} cannot be reached "
            f"({type(error).__name__}: {error}); check QUEUE_URL"
        ) from None


def _redacted(url: str) -> str:
    return redact_url(url) if "@" in url else url


def enqueue_new(settings: Settings, session_factory: sessionmaker[Session], run: Run) -> None:
    """Enqueue a just-created run; if the queue is down, fail the run saying so and raise."""

    try:
        enqueue(settings, run.id)
    except QueueUnavailableError as error:
        with session_scope(session_factory) as session:
            # The caller's copy of the run is the one finished, so it shows the failure.
            session.add(run)
            run_lifecycle.finish(
                session,
                run,
                state=RunState.FAILED,
                error_type="QueueUnavailable",
                error_message=str(error),
            )
        raise


def cancel_run(session_factory: sessionmaker[Session], run_id: str) -> Run:
    """Cancel a queued or waiting run now; ask a running one to stop after its current step."""

    with session_scope(session_factory) as session:
        return run_lifecycle.request_cancel(session, runs.require(session, run_id))


def retry_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: str,
    *,
    trigger: str = "retry",
) -> Run:
    """Start a new run of the same workflow version with the same inputs."""

    with session_scope(session_factory) as session:
        old = runs.require(session, run_id)
        if old.state not in (RunState.FAILED, RunState.CANCELLED):
            raise IllegalTransitionError(
                f"only failed or cancelled runs can be retried; {run_id} is {old.state}"
            )
        check_queue_depth(session, settings)
        run = run_lifecycle.create(
            session,
            workflow_name=old.workflow_name,
            workflow_id=old.workflow_id,
            workflow_version_id=old.workflow_version_id,
            inputs=dict(old.inputs),
            trigger=trigger,
        )
    enqueue_new(settings, session_factory, run)
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
    execute it, as `configurable-agents approve` does). The paused run held no worker.

    A queue that cannot be reached does not refuse the decision: it is stored, the run is
    queued, and the reconciler enqueues it once the queue is back (its timeline says so)."""

    with session_scope(session_factory) as session:
        run = runs.require(session, run_id)
        waiting = steps.latest_waiting_step(session, run_id)
        if run.state == RunState.AWAITING_APPROVAL and waiting is None:
            raise IllegalTransitionError(f"run {run_id} has no step waiting for approval")
        run_lifecycle.resume_after_approval(session, run)
        if waiting is not None:
            waiting.output = {
                "decision": {"approved": decision.approved, "comment": decision.comment}
            }
    if enqueue_run:
        try:
            enqueue(settings, run_id, priority=RESUME_PRIORITY)
        except QueueUnavailableError as error:
            # The decision is stored and the run queued: that is the answer. The reconciler
            # of any worker hands it over once the queue is back; the timeline says so.
            with session_scope(session_factory) as session:
                run_events.add(
                    session,
                    run_id,
                    run_events.ENQUEUE_FAILED,
                    f"decision stored; {error}. The run goes on once the queue is back "
                    f"(handed over again within RECONCILE_AFTER_SECONDS="
                    f"{settings.reconcile_after_seconds:g} s)",
                )
            log.warning("run %s approved while the queue is unreachable: %s", run_id, error)
    return run
