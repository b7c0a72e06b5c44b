"""Runs: listings, counts, cancel, leases and retries on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.errors import IllegalTransitionError, RunNotFoundError
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.repositories import runs
from tests.unit.storage._concurrent import run_in_threads


def _runs_created_minutes_apart(session: Session, states: list[str]) -> list[Run]:
    """Runs whose created_at are one minute apart, oldest first."""
    start = utcnow() - timedelta(hours=1)
    made = []
    for minute, state in enumerate(states):
        run = runs.create(session, workflow_name=f"wf{minute % 2}", inputs={"n": minute})
        run.state = state
        run.created_at = start + timedelta(minutes=minute)
        made.append(run)
    session.flush()
    return made


def test_create_and_read_back_in_a_new_session(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = runs.create(
            session, workflow_name="summarise", inputs={"text": "héllo"}, trigger="api"
        ).id
        session.commit()

    with session_factory() as session:
        run = runs.require(session, run_id)
        assert (run.workflow_name, run.inputs, run.trigger, run.state) == (
            "summarise",
            {"text": "héllo"},
            "api",
            RunState.QUEUED,
        )
        assert run.created_at.tzinfo is not None
        assert (run.attempts, run.total_tokens, run.cancel_requested) == (0, 0, False)


def test_missing_run_is_a_named_error(session: Session) -> None:
    with pytest.raises(RunNotFoundError, match="nope"):
        runs.require(session, "nope")


def test_list_newest_first_with_filters_and_cursor(session: Session) -> None:
    made = _runs_created_minutes_apart(
        session, [RunState.COMPLETED, RunState.FAILED, RunState.COMPLETED, RunState.QUEUED]
    )
    newest_first = [run.id for run in reversed(made)]

    assert [run.id for run in runs.list_runs(session)] == newest_first
    assert [run.id for run in runs.list_runs(session, state=RunState.COMPLETED)] == [
        made[2].id,
        made[0].id,
    ]
    page_one = runs.list_runs(session, limit=2)
    cursor = (page_one[-1].created_at, page_one[-1].id)
    page_two = runs.list_runs(session, limit=2, before=cursor)
    assert [run.id for run in [*page_one, *page_two]] == newest_first
    since = made[1].created_at
    assert [run.id for run in runs.list_runs(session, since=since)] == newest_first[:3]


def test_counts_by_state_and_since(session: Session) -> None:
    made = _runs_created_minutes_apart(
        session, [RunState.COMPLETED, RunState.FAILED, RunState.COMPLETED, RunState.QUEUED]
    )

    counts = runs.count_by_state(session)
    assert counts[RunState.COMPLETED] == 2 and counts[RunState.RUNNING] == 0
    assert runs.count_since(session, made[1].created_at) == 3
    assert runs.count_since(session, made[1].created_at, state=RunState.COMPLETED) == 1
    assert runs.count_since(session, utcnow()) == 0


def test_cancel_queued_now_and_running_by_flag(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        queued = runs.create(session, workflow_name="w", inputs={})
        running = runs.create(session, workflow_name="w", inputs={})
        runs.claim(session, running.id, worker_id="w1", lease_seconds=30)
        runs.request_cancel(session, queued)
        runs.request_cancel(session, running)
        session.commit()

        assert queued.state == RunState.CANCELLED and queued.finished_at is not None
        assert running.state == RunState.RUNNING
        with pytest.raises(IllegalTransitionError, match="already cancelled"):
            runs.request_cancel(session, queued)

    # A worker reads the flag from its own session.
    with session_factory() as worker:
        assert runs.is_cancel_requested(worker, running.id) is True
        assert runs.is_cancel_requested(worker, queued.id) is False
        with pytest.raises(RunNotFoundError):
            runs.is_cancel_requested(worker, "missing")


def test_claim_is_won_once_and_sets_a_lease(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = runs.create(session, workflow_name="w", inputs={}).id
        session.commit()

    with session_factory() as first:
        claimed = runs.claim(first, run_id, worker_id="worker-a", lease_seconds=30)
        first.commit()
    with session_factory() as second:
        assert runs.claim(second, run_id, worker_id="worker-b", lease_seconds=30) is None

    assert claimed is not None
    assert (claimed.state, claimed.worker_id, claimed.attempts) == (RunState.RUNNING, "worker-a", 1)
    assert claimed.lease_expires_at is not None and claimed.started_at is not None
    remaining = (claimed.lease_expires_at - utcnow()).total_seconds()
    assert 0 < remaining <= 30


def test_renew_lease_only_for_the_owner(session: Session) -> None:
    run = runs.create(session, workflow_name="w", inputs={})
    runs.claim(session, run.id, worker_id="worker-a", lease_seconds=1)
    first_expiry = run.lease_expires_at
    assert first_expiry is not None

    assert runs.renew_lease(session, run.id, worker_id="worker-a", lease_seconds=600) is True
    assert run.lease_expires_at is not None and run.lease_expires_at > first_expiry
    assert runs.renew_lease(session, run.id, worker_id="worker-b", lease_seconds=600) is False


def test_expired_leases_are_listed_oldest_first(session: Session) -> None:
    short = runs.create(session, workflow_name="w", inputs={})
    longer = runs.create(session, workflow_name="w", inputs={})
    healthy = runs.create(session, workflow_name="w", inputs={})
    runs.claim(session, short.id, worker_id="a", lease_seconds=5)
    runs.claim(session, longer.id, worker_id="a", lease_seconds=10)
    runs.claim(session, healthy.id, worker_id="a", lease_seconds=3600)

    assert runs.list_expired_leases(session) == []
    later = utcnow() + timedelta(seconds=60)
    assert [run.id for run in runs.list_expired_leases(session, now=later)] == [
        short.id,
        longer.id,
    ]


def test_retry_is_a_new_attempt_of_the_same_run(session: Session) -> None:
    run = runs.create(session, workflow_name="w", inputs={})
    runs.claim(session, run.id, worker_id="a", lease_seconds=30)
    started = run.started_at
    runs.finish(session, run, state=RunState.FAILED, error_type="Timeout", error_message="slow")

    runs.retry(session, run)
    assert (run.state, run.error_type, run.finished_at, run.worker_id) == (
        RunState.QUEUED,
        None,
        None,
        None,
    )
    again = runs.claim(session, run.id, worker_id="b", lease_seconds=30)
    assert again is not None and again.attempts == 2 and again.started_at == started


def test_retry_refuses_live_and_completed_runs(session: Session) -> None:
    run = runs.create(session, workflow_name="w", inputs={})
    runs.claim(session, run.id, worker_id="a", lease_seconds=30)

    with pytest.raises(IllegalTransitionError, match="running"):
        runs.retry(session, run)
    # Once the worker's lease has run out, the run may be retried.
    runs.retry(session, run, now=utcnow() + timedelta(minutes=5))
    assert run.state == RunState.QUEUED

    done = runs.create(session, workflow_name="w", inputs={})
    runs.finish(session, done, state=RunState.COMPLETED, outputs={"ok": True})
    with pytest.raises(IllegalTransitionError, match="completed"):
        runs.retry(session, done)


def test_recent_errors_most_recently_finished_first(session: Session) -> None:
    made = _runs_created_minutes_apart(session, [RunState.QUEUED] * 4)
    finished_at = utcnow()
    # The oldest run failed last: it must come first.
    for offset, run in [(3, made[0]), (1, made[1]), (2, made[3])]:
        runs.finish(session, run, state=RunState.FAILED, error_type="E", error_message=run.id)
        run.finished_at = finished_at + timedelta(seconds=offset)
    runs.finish(session, made[2], state=RunState.COMPLETED)
    session.flush()

    assert [run.id for run in runs.recent_errors(session)] == [made[0].id, made[3].id, made[1].id]
    assert [run.id for run in runs.recent_errors(session, limit=1)] == [made[0].id]
    cutoff = finished_at + timedelta(seconds=2)
    assert [run.id for run in runs.recent_errors(session, since=cutoff)] == [
        made[0].id,
        made[3].id,
    ]


def test_workers_racing_for_one_run_only_one_wins(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = runs.create(session, workflow_name="w", inputs={}).id
        session.commit()
    winners: list[str] = []

    def try_claim(worker_id: str) -> None:
        with session_factory() as session:
            if runs.claim(session, run_id, worker_id=worker_id, lease_seconds=30):
                winners.append(worker_id)
            session.commit()

    errors = run_in_threads(try_claim, [(f"w{n}",) for n in range(4)])

    assert errors == [] and len(winners) == 1
    with session_factory() as session:
        run = runs.require(session, run_id)
        assert (run.worker_id, run.attempts) == (winners[0], 1)
