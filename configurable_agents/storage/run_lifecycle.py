"""The one owner of a run's state: every change of ``Run.state`` is a function here.

Each function is one row of :data:`configurable_agents.storage.states.TRANSITIONS` (its
name is the row's key) and checks it. Two kinds:

- Changes made on a loaded run (``start``, ``pause_for_approval``, ``resume_after_approval``,
  ``retry``, ``finish``, ``request_cancel``) raise IllegalTransitionError when the run's
  state is not one the table allows to start from.
- Changes several workers may race for (``claim``, ``requeue_expired``,
  ``fail_expired``, and the lease renewals) are one conditional UPDATE whose WHERE clause
  is the table's row, so each run changes hands once; losing the race is not an error
  and the function says so by its result (None, False or a count).

Nothing else writes ``runs.state``: the engine, the queue's leases and dispatch, and the
approval code call these.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import IllegalTransitionError
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.states import TRANSITIONS
from configurable_agents.storage.values import require_storable

__all__ = [
    "claim",
    "create",
    "fail_expired",
    "finish",
    "pause_for_approval",
    "release_leases",
    "renew_leases",
    "request_cancel",
    "requeue_expired",
    "resume_after_approval",
    "retry",
    "start",
]

# Which row of the table a final state is reached by.
_FINISHING = {RunState.COMPLETED: "complete", RunState.FAILED: "fail", RunState.CANCELLED: "cancel"}


def _check(run: Run, change: str) -> str:
    """The state ``change`` moves the run to; IllegalTransitionError when it may not."""
    row = TRANSITIONS[change]
    if run.state not in row.sources:
        raise IllegalTransitionError(
            f"run {run.id} is {run.state}: cannot {change.replace('_', ' ')} "
            f"(only from {', '.join(sorted(row.sources))})"
        )
    return row.target


# --- birth ----------------------------------------------------------------------------------


def create(
    session: Session,
    *,
    workflow_name: str,
    inputs: dict[str, Any],
    workflow_id: int | None = None,
    workflow_version_id: int | None = None,
    trigger: str = "cli",
    experiment_id: int | None = None,
) -> Run:
    """A new run, queued: every run starts life waiting for a worker (or the CLI).

    ``experiment_id`` marks a cell of an experiment (it runs its variant's config).

    UnstorableValueError (nothing stored) for inputs no database can keep."""
    require_storable(inputs, ("inputs",))
    require_storable(workflow_name, ("workflow_name",))
    run = Run(
        workflow_name=workflow_name,
        workflow_id=workflow_id,
        workflow_version_id=workflow_version_id,
        inputs=inputs,
        trigger=trigger,
        state=RunState.QUEUED,
        experiment_id=experiment_id,
    )
    session.add(run)
    session.flush()
    return run


# --- taking and keeping a run ---------------------------------------------------------------


def claim(session: Session, run_id: str, *, worker_id: str, lease_seconds: float) -> Run | None:
    """Start a new attempt of a queued run under a lease; None when it is not queued (another
    worker got it first, or it was cancelled).

    One conditional UPDATE, so two workers racing for the same run cannot both win.
    """
    row = TRANSITIONS["claim"]
    now = utcnow()
    claimed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.state.in_(row.sources))
        .values(
            state=row.target,
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


def start(session: Session, run: Run, *, worker_id: str | None = None) -> Run:
    """Start a new attempt of the run in this process, without a lease (the CLI)."""
    run.state = _check(run, "start")
    run.worker_id = worker_id
    run.attempts += 1
    run.started_at = run.started_at or utcnow()
    session.flush()
    return run


def renew_leases(
    session: Session, *, worker_id: str, run_ids: Collection[str], lease_seconds: float
) -> int:
    """Push forward the leases of the runs this worker is executing; how many it renewed.

    Only runs still running under this worker: a run the reaper took away stays with its
    new worker.
    """
    return _set_leases(session, worker_id, run_ids, timedelta(seconds=lease_seconds))


def release_leases(session: Session, *, worker_id: str, run_ids: Collection[str]) -> int:
    """Expire this worker's leases now (a clean shutdown): the reapers take the runs at once."""
    return _set_leases(session, worker_id, run_ids, timedelta(seconds=-1))


def _set_leases(
    session: Session, worker_id: str, run_ids: Collection[str], from_now: timedelta
) -> int:
    if not run_ids:
        return 0
    return session.execute(
        update(Run)
        .where(
            Run.id.in_(list(run_ids)),
            Run.worker_id == worker_id,
            Run.state == RunState.RUNNING,
        )
        .values(lease_expires_at=utcnow() + from_now)
        .execution_options(synchronize_session=False)
    ).rowcount


# --- the reaper -----------------------------------------------------------------------------


def requeue_expired(session: Session, run_id: str, *, worker_id: str | None, now: datetime) -> bool:
    """Queue a running run again whose lease (held by ``worker_id``) expired before ``now``;
    False when it changed meanwhile (renewed, finished, or taken by another reaper)."""
    row = TRANSITIONS["requeue"]
    return _change_expired(
        session,
        run_id,
        worker_id,
        now,
        sources=row.sources,
        values={"state": row.target, "worker_id": None, "lease_expires_at": None},
    )


def fail_expired(
    session: Session,
    run_id: str,
    *,
    worker_id: str | None,
    now: datetime,
    error_type: str,
    error_message: str,
) -> bool:
    """Fail a running run whose lease expired and that used up its attempts; False when it
    changed meanwhile."""
    row = TRANSITIONS["fail"]
    return _change_expired(
        session,
        run_id,
        worker_id,
        now,
        sources=row.sources & {RunState.RUNNING},
        values={
            "state": row.target,
            "error_type": error_type,
            "error_message": error_message,
            "finished_at": now,
            "lease_expires_at": None,
        },
    )


def _change_expired(
    session: Session,
    run_id: str,
    worker_id: str | None,
    now: datetime,
    *,
    sources: frozenset[str],
    values: dict[str, Any],
) -> bool:
    # The WHERE repeats what the reaper decided from, so only one reaper changes the run.
    changed = session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            Run.state.in_(sources),
            Run.lease_expires_at < now,
            Run.worker_id == worker_id if worker_id else Run.worker_id.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1


# --- approvals ------------------------------------------------------------------------------


def pause_for_approval(session: Session, run: Run) -> Run:
    """The run waits for a person's decision and holds no worker meanwhile."""
    run.state = _check(run, "pause_for_approval")
    run.worker_id = None
    run.lease_expires_at = None
    session.flush()
    return run


def resume_after_approval(session: Session, run: Run) -> Run:
    """A person decided: the run waits for a worker (or the CLI) to go on."""
    run.state = _check(run, "resume_after_approval")
    session.flush()
    return run


# --- endings and steering -------------------------------------------------------------------


def finish(
    session: Session,
    run: Run,
    *,
    state: str,
    outputs: dict[str, Any] | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
) -> Run:
    """End a run as completed, failed or cancelled."""
    change = _FINISHING.get(state)
    if change is None:
        raise IllegalTransitionError(f"{state!r} is not a final state of a run")
    run.state = _check(run, change)
    if outputs is not None:
        run.outputs = outputs
    run.error_type, run.error_message = error_type, error_message
    run.finished_at = utcnow()
    run.lease_expires_at = None
    session.flush()
    return run


def request_cancel(session: Session, run: Run) -> Run:
    """Cancel a queued or waiting run now; flag a running one to stop before its next step."""
    if run.state in RunState.FINISHED:
        raise IllegalTransitionError(f"run {run.id} is already {run.state}")
    if run.state == RunState.RUNNING:
        _check(run, "cancel")
        run.cancel_requested = True
        session.flush()
        return run
    return finish(session, run, state=RunState.CANCELLED, error_message="cancelled by user")


def retry(session: Session, run: Run, *, now: datetime | None = None) -> Run:
    """Queue the same run again for a new attempt; its completed steps are kept for resuming.

    A running run only once its worker's lease has expired.
    """
    lease_expired = run.lease_expires_at is not None and run.lease_expires_at < (now or utcnow())
    if run.state == RunState.RUNNING and not lease_expired:
        raise IllegalTransitionError(f"run {run.id} is running and its lease is still held")
    run.state = _check(run, "retry")
    run.worker_id = None
    run.lease_expires_at = None
    run.cancel_requested = False
    run.error_type = run.error_message = None
    run.finished_at = None
    session.flush()
    return run


def _reload(session: Session, run_id: str) -> Run:
    # populate_existing: the UPDATE bypassed the session's copy of the row.
    return session.execute(
        select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    ).scalar_one()
