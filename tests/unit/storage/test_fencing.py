"""Fencing by claim epochs, on SQLite and PostgreSQL: every claim takes a new epoch, and a
step write or state change under an older epoch raises StaleClaimError and writes nothing;
the reconciler's wake-up is won by one caller; `resume` sees who holds a live lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import StaleClaimError
from configurable_agents.storage.models import RunState, utcnow
from configurable_agents.storage.repositories import run_events, runs, steps
from tests.unit.storage._concurrent import run_in_threads


def _claimed(session: Session, worker: str = "a", lease: float = 30) -> str:
    run = run_lifecycle.create(session, workflow_name="w", inputs={})
    assert run_lifecycle.claim(session, run.id, worker_id=worker, lease_seconds=lease)
    return run.id


def test_every_claim_takes_a_new_epoch(session: Session) -> None:
    run_id = _claimed(session, lease=30)
    assert runs.require(session, run_id).epoch == 1
    # The lease is live: nobody takes it over.
    assert run_lifecycle.take_over(session, run_id, worker_id="b", lease_seconds=30) is None
    later = utcnow() + timedelta(minutes=5)
    taken = run_lifecycle.take_over(session, run_id, worker_id="b", lease_seconds=30, now=later)
    assert taken is not None and (taken.epoch, taken.worker_id, taken.attempts) == (2, "b", 2)
    kinds = [event.kind for event in run_events.list_for_run(session, run_id)]
    assert kinds == [run_events.TAKEN_OVER]


def test_a_stale_epoch_writes_no_step_and_no_end(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = _claimed(session)
        steps.record(session, run_id, node="one", step_key="one#1", epoch=1)
        run_lifecycle.take_over(
            session, run_id, worker_id="b", lease_seconds=30, now=utcnow() + timedelta(hours=1)
        )
        session.commit()

    with session_factory() as session, pytest.raises(StaleClaimError, match="held by b"):
        steps.record(session, run_id, node="two", step_key="two#1", epoch=1, prompt_tokens=5)
    with session_factory() as session, pytest.raises(StaleClaimError):
        run = runs.require(session, run_id)
        run_lifecycle.finish(session, run, state=RunState.COMPLETED, epoch=1)
    with session_factory() as session, pytest.raises(StaleClaimError):
        run_lifecycle.check_claim(session, run_id, 1)

    with session_factory() as session:
        run = runs.require(session, run_id)
        assert (run.state, run.total_tokens) == (RunState.RUNNING, 0)
        assert [(s.step_key, s.epoch) for s in steps.list_for_run(session, run_id)] == [
            ("one#1", 1)
        ]
        # The holder of the new epoch writes as usual.
        steps.record(session, run_id, node="two", step_key="two#1", epoch=2)
        run_lifecycle.check_claim(session, run_id, 2)
        run_lifecycle.finish(session, run, state=RunState.COMPLETED, epoch=2)
        session.commit()
        assert run.state == RunState.COMPLETED


def test_a_requeued_run_fences_its_old_worker(session: Session) -> None:
    run_id = _claimed(session, lease=1)
    assert run_lifecycle.requeue_expired(
        session, run_id, worker_id="a", now=utcnow() + timedelta(minutes=1)
    )
    with pytest.raises(StaleClaimError, match="queued"):
        steps.record(session, run_id, node="one", step_key="one#1", epoch=1)
    with pytest.raises(StaleClaimError):
        run_lifecycle.pause_for_approval(session, runs.require(session, run_id), epoch=1)


def test_holder_says_who_and_until_when(session: Session) -> None:
    run_id = _claimed(session, worker="worker-x", lease=60)
    held = run_lifecycle.holder(session, run_id)
    assert held is not None and held.holder == "worker-x"
    assert "worker-x" in str(held) and "UTC" in str(held)
    assert run_lifecycle.holder(session, run_id, now=utcnow() + timedelta(minutes=2)) is None


def test_one_reconciler_wakes_a_lost_run(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run = run_lifecycle.create(session, workflow_name="w", inputs={})
        run.enqueued_at = utcnow() - timedelta(minutes=1)
        run_id = run.id
        session.commit()
    cutoff = utcnow() - timedelta(seconds=10)
    woke: list[str] = []

    def wake(name: str) -> None:
        with session_factory() as session:
            if run_lifecycle.wake(session, run_id, unclaimed_since=cutoff, now=utcnow()):
                woke.append(name)
            session.commit()

    assert run_in_threads(wake, [(f"w{n}",) for n in range(4)]) == []
    assert len(woke) == 1
    # Freshly woken: not stale any more.
    with session_factory() as session:
        assert not run_lifecycle.wake(session, run_id, unclaimed_since=cutoff, now=utcnow())
