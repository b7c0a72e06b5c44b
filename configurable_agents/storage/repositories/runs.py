"""Runs: creation, state changes, listings and counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import IllegalTransitionError, RunNotFoundError
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.values import require_storable


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
    """A new run in state queued (or the state given); UnstorableValueError (nothing
    stored) for inputs no database can keep."""
    require_storable(inputs, ("inputs",))
    require_storable(workflow_name, ("workflow_name",))
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
        raise RunNotFoundError(f"no run with id {run_id}")
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
        # The `<=` bound lets the index range-scan from the cursor; the OR only breaks ties.
        query = query.where(
            Run.created_at <= created_at,
            (Run.created_at < created_at) | (Run.id < run_id),
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


# --- steering: cancel, leases, retries ----------------------------------------------------


def request_cancel(session: Session, run: Run) -> Run:
    """Cancel a queued or waiting run now; flag a running one to stop before its next step."""
    if run.state in RunState.FINISHED:
        raise IllegalTransitionError(f"run {run.id} is already {run.state}")
    if run.state == RunState.RUNNING:
        run.cancel_requested = True
        session.flush()
        return run
    return finish(session, run, state=RunState.CANCELLED, error_message="cancelled by user")


def is_cancel_requested(session: Session, run_id: str) -> bool:
    """The flag as stored now (not as cached in the session): workers poll it between steps."""
    flag = session.execute(
        select(Run.cancel_requested).where(Run.id == run_id)
    ).scalar_one_or_none()
    if flag is None:
        raise RunNotFoundError(f"no run with id {run_id}")
    return flag


def claim(session: Session, run_id: str, *, worker_id: str, lease_seconds: float) -> Run | None:
    """Start a new attempt of a queued run under a lease; None when another worker got it first.

    One conditional UPDATE, so two workers racing for the same run cannot both win.
    """
    now = utcnow()
    claimed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state == RunState.QUEUED)
        .values(
            state=RunState.RUNNING,
            worker_id=worker_id,
            attempts=Run.attempts + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return None
    run = _reload(session, run_id)
    # The first attempt's start is the run's start; later attempts keep it.
    if run.started_at is None:
        run.started_at = now
        session.flush()
    return run


def renew_lease(session: Session, run_id: str, *, worker_id: str, lease_seconds: float) -> bool:
    """Push the lease forward; False when the run is no longer this worker's running run."""
    renewed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.worker_id == worker_id, Run.state == RunState.RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    ).rowcount
    if renewed == 1:
        _reload(session, run_id)
    return renewed == 1


def list_expired_leases(
    session: Session, *, now: datetime | None = None, limit: int = 100
) -> Sequence[Run]:
    """Running runs whose worker stopped renewing the lease, oldest expiry first."""
    query = (
        select(Run)
        .where(Run.state == RunState.RUNNING, Run.lease_expires_at < (now or utcnow()))
        .order_by(Run.lease_expires_at, Run.id)
        .limit(limit)
    )
    return session.scalars(query).all()


def retry(session: Session, run: Run, *, now: datetime | None = None) -> Run:
    """Queue the same run again for a new attempt; its completed steps are kept for resuming.

    Allowed for failed and cancelled runs, and for running runs whose lease has expired.
    """
    lease_expired = run.lease_expires_at is not None and run.lease_expires_at < (now or utcnow())
    if not (
        run.state in (RunState.FAILED, RunState.CANCELLED)
        or (run.state == RunState.RUNNING and lease_expired)
    ):
        raise IllegalTransitionError(f"run {run.id} is {run.state} and cannot be retried now")
    run.state = RunState.QUEUED
    run.worker_id = None
    run.lease_expires_at = None
    run.cancel_requested = False
    run.error_type = run.error_message = None
    run.finished_at = None
    session.flush()
    return run


def delete(session: Session, run: Run) -> None:
    """Remove a run; its steps go with it, trigger events and results keep a null run."""
    session.delete(run)
    session.flush()


# --- dashboard figures ---------------------------------------------------------------------


def count_since(
    session: Session,
    since: datetime,
    *,
    state: str | None = None,
    workflow_id: int | None = None,
) -> int:
    """How many runs were created at or after ``since`` (optionally in a state, of a workflow)."""
    query = select(func.count()).select_from(Run).where(Run.created_at >= since)
    if state:
        query = query.where(Run.state == state)
    if workflow_id is not None:
        query = query.where(Run.workflow_id == workflow_id)
    return session.scalar(query) or 0


def recent_errors(
    session: Session, *, limit: int = 10, since: datetime | None = None
) -> Sequence[Run]:
    """Failed runs, the most recently finished first."""
    query = select(Run).where(Run.state == RunState.FAILED)
    if since is not None:
        query = query.where(Run.finished_at >= since)
    query = query.order_by(Run.finished_at.desc().nulls_last(), Run.id.desc()).limit(limit)
    return session.scalars(query).all()


def _reload(session: Session, run_id: str) -> Run:
    # populate_existing: the UPDATE above bypassed the session's copy of the row.
    return session.execute(
        select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    ).scalar_one()
