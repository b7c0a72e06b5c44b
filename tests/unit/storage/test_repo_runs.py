"""Runs: listings and counts on SQLite and PostgreSQL (state changes: test_run_lifecycle)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import RunNotFoundError
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.repositories import runs


def _runs_created_minutes_apart(session: Session, states: list[str]) -> list[Run]:
    """Runs whose created_at are one minute apart, oldest first."""
    start = utcnow() - timedelta(hours=1)
    made = []
    for minute, state in enumerate(states):
        run = run_lifecycle.create(session, workflow_name=f"wf{minute % 2}", inputs={"n": minute})
        run.state = state
        run.created_at = start + timedelta(minutes=minute)
        made.append(run)
    session.flush()
    return made


def test_create_and_read_back_in_a_new_session(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = run_lifecycle.create(
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


def test_expired_leases_are_listed_oldest_first(session: Session) -> None:
    short = run_lifecycle.create(session, workflow_name="w", inputs={})
    longer = run_lifecycle.create(session, workflow_name="w", inputs={})
    healthy = run_lifecycle.create(session, workflow_name="w", inputs={})
    run_lifecycle.claim(session, short.id, worker_id="a", lease_seconds=5)
    run_lifecycle.claim(session, longer.id, worker_id="a", lease_seconds=10)
    run_lifecycle.claim(session, healthy.id, worker_id="a", lease_seconds=3600)

    assert runs.list_expired_leases(session) == []
    later = utcnow() + timedelta(seconds=60)
    assert [run.id for run in runs.list_expired_leases(session, now=later)] == [
        short.id,
        longer.id,
    ]


def test_recent_errors_most_recently_finished_first(session: Session) -> None:
    made = _runs_created_minutes_apart(session, [RunState.RUNNING] * 4)
    finished_at = utcnow()
    # The oldest run failed last: it must come first.
    for offset, run in [(3, made[0]), (1, made[1]), (2, made[3])]:
        run_lifecycle.finish(
            session, run, state=RunState.FAILED, error_type="E", error_message=run.id
        )
        run.finished_at = finished_at + timedelta(seconds=offset)
    run_lifecycle.finish(session, made[2], state=RunState.COMPLETED)
    session.flush()

    assert [run.id for run in runs.recent_errors(session)] == [made[0].id, made[3].id, made[1].id]
    assert [run.id for run in runs.recent_errors(session, limit=1)] == [made[0].id]
    cutoff = finished_at + timedelta(seconds=2)
    assert [run.id for run in runs.recent_errors(session, since=cutoff)] == [
        made[0].id,
        made[3].id,
    ]
