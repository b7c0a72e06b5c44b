"""Runs: reading, listing and counting them (their state changes in storage.run_lifecycle)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import RunNotFoundError
from configurable_agents.storage.models import Run, RunState, utcnow


def get(session: Session, run_id: str) -> Run | None:
    return session.get(Run, run_id)


def require(session: Session, run_id: str) -> Run:
    run = get(session, run_id)
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id}")
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
    include_experiments: bool = False,
) -> Sequence[Run]:
    """Newest first; ``before`` is a keyset cursor (created_at, id) that stays fast deep in the list.

    The runs that are cells of an experiment are left out unless ``include_experiments``."""
    query = select(Run)
    if not include_experiments:
        query = query.where(Run.experiment_id.is_(None))
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


# --- leases ------------------------------------------------------------------------------


def is_cancel_requested(session: Session, run_id: str) -> bool:
    """The flag as stored now (not as cached in the session): workers poll it between steps."""
    flag = session.execute(
        select(Run.cancel_requested).where(Run.id == run_id)
    ).scalar_one_or_none()
    if flag is None:
        raise RunNotFoundError(f"no run with id {run_id}")
    return flag


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
