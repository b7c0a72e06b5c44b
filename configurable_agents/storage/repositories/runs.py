"""Runs: creation, state changes, listings and counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from configurable_agents.storage.models import Run, RunState, utcnow


class RunNotFound(LookupError):
    """No run with that id."""


def create(
    session: Session,
    *,
    workflow_name: str,
    inputs: dict[str, Any],
    workflow_id: int | None = None,
    workflow_version_id: int | None = None,
    trigger: str = "cli",
    state: str = RunState.QUEUED,
) -> Run:
    """A new run in state queued (or the state given)."""
    run = Run(
        workflow_name=workflow_name,
        workflow_id=workflow_id,
        workflow_version_id=workflow_version_id,
        inputs=inputs,
        trigger=trigger,
        state=state,
    )
    session.add(run)
    session.flush()
    return run


def get(session: Session, run_id: str) -> Run | None:
    return session.get(Run, run_id)


def require(session: Session, run_id: str) -> Run:
    run = get(session, run_id)
    if run is None:
        raise RunNotFound(f"no run with id {run_id}")
    return run


def mark_running(session: Session, run: Run, *, worker_id: str | None = None) -> Run:
    run.state = RunState.RUNNING
    run.worker_id = worker_id
    run.attempts += 1
    run.started_at = run.started_at or utcnow()
    session.flush()
    return run


def finish(
    session: Session,
    run: Run,
    *,
    state: str,
    outputs: dict[str, Any] | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
) -> Run:
    """Move a run to a final (or awaiting) state."""
    run.state = state
    if outputs is not None:
        run.outputs = outputs
    run.error_type, run.error_message = error_type, error_message
    if state in RunState.FINISHED:
        run.finished_at = utcnow()
        run.lease_expires_at = None
    session.flush()
    return run


def list_runs(
    session: Session,
    *,
    workflow_id: int | None = None,
    state: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> Sequence[Run]:
    """Newest first; ``before`` is a keyset cursor (created_at, id) that stays fast deep in the list."""
    query = select(Run)
    if workflow_id is not None:
        query = query.where(Run.workflow_id == workflow_id)
    if state:
        query = query.where(Run.state == state)
    if since is not None:
        query = query.where(Run.created_at >= since)
    if until is not None:
        query = query.where(Run.created_at < until)
    if before is not None:
        created_at, run_id = before
        query = query.where(
            (Run.created_at < created_at) | ((Run.created_at == created_at) & (Run.id < run_id))
        )
    return session.scalars(query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit)).all()


def count_by_state(session: Session, *, since: datetime | None = None) -> dict[str, int]:
    """How many runs are in each state (every state present, zero when none)."""
    query = select(Run.state, func.count()).group_by(Run.state)
    if since is not None:
        query = query.where(Run.created_at >= since)
    counts = {state: 0 for state in RunState.ALL}
    for state, number in session.execute(query):
        counts[state] = number
    return counts
