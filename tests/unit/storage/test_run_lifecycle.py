"""The run state machine: the whole transition table walked on SQLite and PostgreSQL, and
the races that conditional UPDATEs settle (claims, lease renewal, the reaper)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import IllegalTransitionError, RunNotFoundError
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.repositories import runs
from configurable_agents.storage.states import TRANSITIONS, allowed
from tests.unit.storage._concurrent import run_in_threads

Change = Callable[[Session, Run], Any]

# One way to make each change of the table; a falsy result means "not changed".
CHANGES: dict[str, Change] = {
    "claim": lambda s, run: run_lifecycle.claim(s, run.id, worker_id="w2", lease_seconds=30),
    "take_over": lambda s, run: run_lifecycle.take_over(
        s, run.id, worker_id="w2", lease_seconds=30
    ),
    "start": lambda s, run: run_lifecycle.start(s, run),
    "pause_for_approval": run_lifecycle.pause_for_approval,
    "resume_after_approval": run_lifecycle.resume_after_approval,
    "requeue": lambda s, run: run_lifecycle.requeue_expired(
        s, run.id, worker_id=run.worker_id, now=utcnow()
    ),
    "retry": run_lifecycle.retry,
    "complete": lambda s, run: run_lifecycle.finish(s, run, state=RunState.COMPLETED),
    "fail": lambda s, run: run_lifecycle.finish(s, run, state=RunState.FAILED),
    "cancel": lambda s, run: run_lifecycle.finish(s, run, state=RunState.CANCELLED),
}
# Changes several workers race for: a lost race is a result, not an error.
RACED = {"claim", "take_over", "requeue"}


def _run_in(session: Session, state: str) -> Run:
    """A run put straight into ``state`` (test set-up); a running one has an expired lease,
    so the reaper and retry may take it."""
    run = run_lifecycle.create(session, workflow_name="w", inputs={})
    run.state = state
    if state == RunState.RUNNING:
        run.worker_id = "w1"
        run.lease_expires_at = utcnow() - timedelta(minutes=5)
    session.flush()
    return run


def test_every_row_of_the_table_has_its_function() -> None:
    assert set(CHANGES) == set(TRANSITIONS)
    assert {row.target for row in TRANSITIONS.values()} == set(RunState.ALL)
    assert all(row.sources <= set(RunState.ALL) for row in TRANSITIONS.values())


def test_walk_the_whole_table(session: Session) -> None:
    """Every change from every state: allowed ones land in the target state, the others
    raise (or, for raced changes, leave the run as it was)."""
    wrong = []
    for name, change in CHANGES.items():
        row = TRANSITIONS[name]
        for state in RunState.ALL:
            run = _run_in(session, state)
            legal = state in row.sources
            try:
                result = change(session, run)
            except IllegalTransitionError:
                if legal or name in RACED:
                    wrong.append(f"{name} from {state} raised")
                continue
            session.refresh(run)
            if legal and (not result or run.state != row.target):
                wrong.append(f"{name} from {state} left the run {run.state}")
            if not legal and (name not in RACED or result or run.state != state):
                wrong.append(f"{name} from {state} was allowed")
    assert wrong == []


def test_pairs_outside_the_table_are_refused(session: Session) -> None:
    """No function takes a run from one state to another unless the table has the pair."""
    for source in RunState.ALL:
        for target in RunState.ALL:
            makers = [n for n, row in TRANSITIONS.items() if row.target == target]
            for name in makers:
                run = _run_in(session, source)
                if allowed(source, target) and source in TRANSITIONS[name].sources:
                    continue
                before = run.state
                try:
                    CHANGES[name](session, run)
                except IllegalTransitionError:
                    continue
                session.refresh(run)
                assert run.state == before, f"{name}: {source} -> {target} is not in the table"


def test_finish_refuses_a_state_that_is_not_final(session: Session) -> None:
    run = _run_in(session, RunState.RUNNING)
    with pytest.raises(IllegalTransitionError, match="not a final state"):
        run_lifecycle.finish(session, run, state=RunState.QUEUED)


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_queued_now_and_running_by_flag(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        queued = run_lifecycle.create(session, workflow_name="w", inputs={})
        running = run_lifecycle.create(session, workflow_name="w", inputs={})
        run_lifecycle.claim(session, running.id, worker_id="w1", lease_seconds=30)
        run_lifecycle.request_cancel(session, queued)
        run_lifecycle.request_cancel(session, running)
        session.commit()

        assert queued.state == RunState.CANCELLED and queued.finished_at is not None
        assert running.state == RunState.RUNNING
        with pytest.raises(IllegalTransitionError, match="already cancelled"):
            run_lifecycle.request_cancel(session, queued)

    # A worker reads the flag from its own session.
    with session_factory() as worker:
        assert runs.is_cancel_requested(worker, running.id) is True
        assert runs.is_cancel_requested(worker, queued.id) is False
        with pytest.raises(RunNotFoundError):
            runs.is_cancel_requested(worker, "missing")


# --- claims and leases ----------------------------------------------------------------------


def test_claim_is_won_once_and_sets_a_lease(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = run_lifecycle.create(session, workflow_name="w", inputs={}).id
        session.commit()

    with session_factory() as first:
        claimed = run_lifecycle.claim(first, run_id, worker_id="worker-a", lease_seconds=30)
        first.commit()
    with session_factory() as second:
        assert run_lifecycle.claim(second, run_id, worker_id="worker-b", lease_seconds=30) is None

    assert claimed is not None
    assert (claimed.state, claimed.worker_id, claimed.attempts) == (RunState.RUNNING, "worker-a", 1)
    assert claimed.lease_expires_at is not None and claimed.started_at is not None
    remaining = (claimed.lease_expires_at - utcnow()).total_seconds()
    assert 0 < remaining <= 30


def test_renew_leases_only_for_the_owner(session: Session) -> None:
    run = run_lifecycle.create(session, workflow_name="w", inputs={})
    run_lifecycle.claim(session, run.id, worker_id="worker-a", lease_seconds=1)
    first_expiry = run.lease_expires_at
    assert first_expiry is not None

    renewed = run_lifecycle.renew_leases(
        session, worker_id="worker-a", run_ids=[run.id], lease_seconds=600
    )
    assert renewed == 1
    session.refresh(run)
    assert run.lease_expires_at is not None and run.lease_expires_at > first_expiry
    assert (
        run_lifecycle.renew_leases(
            session, worker_id="worker-b", run_ids=[run.id], lease_seconds=600
        )
        == 0
    )
    assert run_lifecycle.release_leases(session, worker_id="worker-a", run_ids=[run.id]) == 1
    session.refresh(run)
    assert run.lease_expires_at is not None and run.lease_expires_at < utcnow()


def test_workers_racing_for_one_run_only_one_wins(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = run_lifecycle.create(session, workflow_name="w", inputs={}).id
        session.commit()
    winners: list[str] = []

    def try_claim(worker_id: str) -> None:
        with session_factory() as session:
            if run_lifecycle.claim(session, run_id, worker_id=worker_id, lease_seconds=30):
                winners.append(worker_id)
            session.commit()

    errors = run_in_threads(try_claim, [(f"w{n}",) for n in range(4)])

    assert errors == [] and len(winners) == 1
    with session_factory() as session:
        run = runs.require(session, run_id)
        assert (run.worker_id, run.attempts) == (winners[0], 1)


def test_the_reaper_changes_only_the_lease_it_saw_expire(session: Session) -> None:
    run = run_lifecycle.create(session, workflow_name="w", inputs={})
    run_lifecycle.claim(session, run.id, worker_id="a", lease_seconds=30)
    now = utcnow()
    # Not expired yet, or held by another worker: nothing changes.
    assert not run_lifecycle.requeue_expired(session, run.id, worker_id="a", now=now)
    later = now + timedelta(minutes=5)
    assert not run_lifecycle.requeue_expired(session, run.id, worker_id="b", now=later)
    assert run_lifecycle.fail_expired(
        session, run.id, worker_id="a", now=later, error_type="WorkerLost", error_message="gone"
    )
    session.refresh(run)
    assert (run.state, run.error_type, run.lease_expires_at) == (
        RunState.FAILED,
        "WorkerLost",
        None,
    )


# --- retries --------------------------------------------------------------------------------


def test_retry_is_a_new_attempt_of_the_same_run(session: Session) -> None:
    run = run_lifecycle.create(session, workflow_name="w", inputs={})
    run_lifecycle.claim(session, run.id, worker_id="a", lease_seconds=30)
    started = run.started_at
    run_lifecycle.finish(
        session, run, state=RunState.FAILED, error_type="Timeout", error_message="slow"
    )

    run_lifecycle.retry(session, run)
    assert (run.state, run.error_type, run.finished_at, run.worker_id) == (
        RunState.QUEUED,
        None,
        None,
        None,
    )
    again = run_lifecycle.claim(session, run.id, worker_id="b", lease_seconds=30)
    assert again is not None and again.attempts == 2 and again.started_at == started


def test_retry_refuses_live_and_completed_runs(session: Session) -> None:
    run = run_lifecycle.create(session, workflow_name="w", inputs={})
    run_lifecycle.claim(session, run.id, worker_id="a", lease_seconds=30)

    with pytest.raises(IllegalTransitionError, match="running"):
        run_lifecycle.retry(session, run)
    # Once the worker's lease has run out, the run may be retried.
    run_lifecycle.retry(session, run, now=utcnow() + timedelta(minutes=5))
    assert run.state == RunState.QUEUED

    done = run_lifecycle.create(session, workflow_name="w", inputs={})
    run_lifecycle.claim(session, done.id, worker_id="a", lease_seconds=30)
    run_lifecycle.finish(session, done, state=RunState.COMPLETED, outputs={"ok": True})
    with pytest.raises(IllegalTransitionError, match="completed"):
        run_lifecycle.retry(session, done)
