"""The one owner of a run's state: every change of ``Run.state`` is a function here.

Each function is one row of :data:`configurable_agents.storage.states.TRANSITIONS` (its
name is the row's key) and checks it. Two kinds:

- Changes made on a loaded run (``start``, ``pause_for_approval``, ``resume_after_approval``,
  ``retry``, ``finish``, ``request_cancel``) raise IllegalTransitionError when the run's
  state is not one the table allows to start from.
- Changes several workers may race for (``claim``, ``take_over``, ``requeue_expired``,
  ``fail_expired``, and the lease renewals) are one conditional UPDATE whose WHERE clause
  is the table's row, so each run changes hands once; losing the race is not an error
  and the function says so by its result (None, False or a count).

Fencing: every claim (``claim``, ``take_over``, ``start``) takes a new ``epoch``. A worker
passes the epoch it claimed to every later change (``finish``, ``pause_for_approval``)
and to every step it writes (storage.repositories.steps): each is a compare-and-set on
that epoch (:func:`fence`), so a worker whose claim went stale (frozen past its lease,
then thawed) raises StaleClaimError at its next write instead of writing.

Nothing else writes ``runs.state``: the engine, the queue's leases and dispatch, and the
approval code call these.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import (
    IllegalTransitionError,
    RunHeldError,
    RunNotFoundError,
    StaleClaimError,
)
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.repositories import run_events
from configurable_agents.storage.states import TRANSITIONS
from configurable_agents.storage.values import require_storable

__all__ = [
    "check_claim",
    "claim",
    "create",
    "fail_expired",
    "fence",
    "finish",
    "holder",
    "pause_for_approval",
    "release_leases",
    "renew_leases",
    "request_cancel",
    "requeue_expired",
    "resume_after_approval",
    "retry",
    "stale_claim",
    "start",
    "take_over",
    "wake",
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
        # Handed to the queue right after it is stored; if that hand-off is lost (a crash
        # in between, the queue down) the reconciler hands it over again.
        enqueued_at=utcnow(),
        experiment_id=experiment_id,
    )
    session.add(run)
    session.flush()
    return run


# --- taking and keeping a run ---------------------------------------------------------------


def claim(session: Session, run_id: str, *, worker_id: str, lease_seconds: float) -> Run | None:
    """Start a new attempt of a queued run under a lease and a new epoch; None when it is
    not queued (another worker got it first, or it was cancelled).

    One conditional UPDATE, so two workers racing for the same run cannot both win.
    """
    row = TRANSITIONS["claim"]
    run = _take(session, run_id, worker_id, lease_seconds, Run.state.in_(row.sources), row.target)
    if run is not None and run.attempts > 1:
        # A first claim is the run's start (shown as such); a later one is worth a line.
        run_events.add(
            session,
            run_id,
            run_events.CLAIMED,
            f"claimed again by {worker_id} (attempt {run.attempts})",
            epoch=run.epoch,
        )
    return run


def take_over(
    session: Session,
    run_id: str,
    *,
    worker_id: str,
    lease_seconds: float,
    now: datetime | None = None,
) -> Run | None:
    """Claim a running run whose holder's lease expired (or that never had one: an
    interrupted CLI run) under a new epoch, so the old holder is fenced off; None when it
    changed meanwhile (renewed, finished, taken by someone else)."""
    row = TRANSITIONS["take_over"]
    expired = Run.lease_expires_at.is_(None) | (Run.lease_expires_at < (now or utcnow()))
    condition = Run.state.in_(row.sources) & expired
    previous = session.execute(
        select(Run.worker_id, Run.epoch).where(Run.id == run_id)
    ).one_or_none()
    run = _take(session, run_id, worker_id, lease_seconds, condition, row.target)
    if run is not None and previous is not None:
        run_events.add(
            session,
            run_id,
            run_events.TAKEN_OVER,
            f"taken over by {worker_id} from {previous[0] or 'a process without a lease'} "
            f"(epoch {previous[1]} fenced off)",
            epoch=run.epoch,
        )
    return run


def _take(
    session: Session,
    run_id: str,
    worker_id: str,
    lease_seconds: float,
    condition: Any,
    target: str,
) -> Run | None:
    now = utcnow()
    claimed = session.execute(
        update(Run)
        .where(Run.id == run_id, condition)
        .values(
            state=target,
            worker_id=worker_id,
            attempts=Run.attempts + 1,
            epoch=Run.epoch + 1,
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


def holder(session: Session, run_id: str, *, now: datetime | None = None) -> RunHeldError | None:
    """Who holds the running run under a live lease (as an error to raise), or None."""
    row = session.execute(
        select(Run.state, Run.worker_id, Run.lease_expires_at).where(Run.id == run_id)
    ).one_or_none()
    if row is None:
        raise RunNotFoundError(f"no run with id {run_id}")
    state, worker_id, until = row
    if state != RunState.RUNNING or until is None or until <= (now or utcnow()):
        return None
    return RunHeldError(
        f"run {run_id} is held by {worker_id or 'another process'} under a lease until "
        f"{until:%Y-%m-%d %H:%M:%S} UTC",
        holder=worker_id,
        until=until,
    )


def fence(session: Session, run_id: str, epoch: int) -> Run:
    """The run, locked for this transaction, if ``epoch`` is still its claim and it is
    running; StaleClaimError (saying who holds it now) otherwise.

    An UPDATE that changes nothing takes the row lock on PostgreSQL (SQLite's BEGIN
    IMMEDIATE already serialises writers), so the caller's writes in the same transaction
    cannot interleave with a newer claim.
    """
    run = session.scalars(
        update(Run)
        .where(Run.id == run_id, Run.epoch == epoch, Run.state == RunState.RUNNING)
        .values(epoch=Run.epoch)
        .returning(Run)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).one_or_none()
    if run is None:
        raise stale_claim(session, run_id, epoch)
    return run


def check_claim(session: Session, run_id: str, epoch: int) -> None:
    """Raise StaleClaimError unless ``epoch`` is still the running run's claim (a read,
    no lock: a worker looks before it starts a step, the write itself is fenced)."""
    row = session.execute(select(Run.state, Run.epoch).where(Run.id == run_id)).one_or_none()
    if row is None or row[0] != RunState.RUNNING or row[1] != epoch:
        raise stale_claim(session, run_id, epoch)


def stale_claim(session: Session, run_id: str, epoch: int) -> StaleClaimError:
    """The error for a write under ``epoch`` that no longer holds the run."""
    row = session.execute(
        select(Run.state, Run.epoch, Run.worker_id).where(Run.id == run_id)
    ).one_or_none()
    if row is None:
        return StaleClaimError(f"run {run_id} is gone")
    state, current, worker_id = row
    holder_text = f", held by {worker_id}" if worker_id and state == RunState.RUNNING else ""
    return StaleClaimError(
        f"claim epoch {epoch} of run {run_id} is stale: the run is {state} at epoch "
        f"{current}{holder_text}"
    )


def wake(session: Session, run_id: str, *, unclaimed_since: datetime, now: datetime) -> bool:
    """Mark a queued run as handed to the queue again if nobody took it since
    ``unclaimed_since``; False when another reconciler (or a claim) got there first.

    The conditional UPDATE is what lets every worker run the reconciler at once: only the
    one whose UPDATE matched enqueues the run.
    """
    changed = session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            Run.state == RunState.QUEUED,
            Run.enqueued_at.is_(None) | (Run.enqueued_at < unclaimed_since),
        )
        .values(enqueued_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1


def start(session: Session, run: Run, *, worker_id: str | None = None) -> Run:
    """Start a new attempt of the run in this process, without a lease (the CLI `run`),
    under a new epoch."""
    run.state = _check(run, "start")
    run.worker_id = worker_id
    run.attempts += 1
    run.epoch = (run.epoch or 0) + 1
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
        values={
            "state": row.target,
            "worker_id": None,
            "lease_expires_at": None,
            "enqueued_at": now,
        },
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


def pause_for_approval(session: Session, run: Run, *, epoch: int | None = None) -> Run:
    """The run waits for a person's decision and holds no worker meanwhile.

    With ``epoch`` (a worker's claim) only while that claim holds (StaleClaimError)."""
    if epoch is not None:
        run = fence(session, run.id, epoch)
    run.state = _check(run, "pause_for_approval")
    run.worker_id = None
    run.lease_expires_at = None
    session.flush()
    return run


def resume_after_approval(session: Session, run: Run) -> Run:
    """A person decided: the run waits for a worker (or the CLI) to go on."""
    run.state = _check(run, "resume_after_approval")
    run.enqueued_at = utcnow()
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
    epoch: int | None = None,
) -> Run:
    """End a run as completed, failed or cancelled.

    With ``epoch`` (a worker's claim) only while that claim holds (StaleClaimError)."""
    change = _FINISHING.get(state)
    if change is None:
        raise IllegalTransitionError(f"{state!r} is not a final state of a run")
    if epoch is not None:
        run = fence(session, run.id, epoch)
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
    run.enqueued_at = utcnow()
    session.flush()
    return run


def _reload(session: Session, run_id: str) -> Run:
    # populate_existing: the UPDATE bypassed the session's copy of the row.
    return session.execute(
        select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    ).scalar_one()
