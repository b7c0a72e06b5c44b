"""Run steps: recorded with every field, numbered, rolled up into the run, resumable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import RunNotFoundError, StepNotFoundError
from configurable_agents.storage.models import Run, RunState, RunStep, utcnow
from configurable_agents.storage.repositories import runs, steps
from tests.unit.storage._concurrent import run_in_threads


def _claimed_run(session: Session) -> str:
    run = run_lifecycle.create(session, workflow_name="summarise", inputs={"text": "hi"})
    run_lifecycle.claim(session, run.id, worker_id="w", lease_seconds=60)
    return run.id


def test_every_field_round_trips_in_a_new_session(session_factory: sessionmaker[Session]) -> None:
    started = utcnow() - timedelta(seconds=2)
    with session_factory() as session:
        run_id = _claimed_run(session)
        steps.record(
            session,
            run_id,
            node="summarise",
            kind="llm",
            input={"text": "hi"},
            rendered_prompt="Summarise: hi",
            raw_output='{"summary": "hi"}',
            output={"summary": "hi"},
            provider="local",
            model="smollm2-135m",
            prompt_tokens=12,
            completion_tokens=5,
            cost=0.0025,
            latency_ms=812.5,
            started_at=started,
        )
        steps.record(
            session,
            run_id,
            node="publish",
            kind="tool",
            state=steps.FAILED,
            error_type="HTTPError",
            error_message="503 from https://example.test",
        )
        session.commit()

    with session_factory() as session:
        first, second = steps.list_for_run(session, run_id)
        assert (first.seq, first.node, first.kind, first.state) == (
            1,
            "summarise",
            "llm",
            "completed",
        )
        assert (first.input, first.rendered_prompt, first.raw_output, first.output) == (
            {"text": "hi"},
            "Summarise: hi",
            '{"summary": "hi"}',
            {"summary": "hi"},
        )
        assert (first.provider, first.model, first.prompt_tokens, first.completion_tokens) == (
            "local",
            "smollm2-135m",
            12,
            5,
        )
        assert (first.cost, first.latency_ms, first.attempt) == (0.0025, 812.5, 1)
        assert first.started_at == started and first.started_at.tzinfo is not None
        assert first.finished_at is not None and first.finished_at.tzinfo is not None
        assert (second.seq, second.state, second.error_type, second.error_message) == (
            2,
            "failed",
            "HTTPError",
            "503 from https://example.test",
        )
        assert steps.get(session, run_id, 2).node == "publish"


def test_totals_roll_up_into_the_run(session: Session) -> None:
    run_id = _claimed_run(session)
    steps.record(session, run_id, node="a", prompt_tokens=10, completion_tokens=4, cost=0.01)
    steps.record(session, run_id, node="b", prompt_tokens=3, completion_tokens=7, cost=0.02)

    run = runs.require(session, run_id)
    assert run.total_tokens == 24
    assert run.total_cost == pytest.approx(0.03)
    assert steps.roll_up(session, run).total_tokens == 24


def test_next_seq_and_unknown_lookups(session: Session) -> None:
    run_id = _claimed_run(session)
    assert steps.next_seq(session, run_id) == 1
    steps.record(session, run_id, node="a")
    assert steps.next_seq(session, run_id) == 2

    with pytest.raises(StepNotFoundError, match="no step 9"):
        steps.get(session, run_id, 9)
    with pytest.raises(RunNotFoundError):
        steps.record(session, "missing", node="a")
    with pytest.raises(ValueError, match="step state must be one of"):
        steps.record(session, run_id, node="a", state="done")


def test_resumed_attempt_skips_completed_nodes(session: Session) -> None:
    run_id = _claimed_run(session)
    steps.record(session, run_id, node="fetch")
    steps.record(session, run_id, node="summarise", state=steps.FAILED, error_type="Timeout")
    run = runs.require(session, run_id)
    run_lifecycle.finish(session, run, state=RunState.FAILED, error_type="Timeout")
    run_lifecycle.retry(session, run)
    run_lifecycle.claim(session, run_id, worker_id="w2", lease_seconds=60)

    assert steps.completed_nodes(session, run_id) == {"fetch"}
    steps.record(session, run_id, node="summarise")

    assert steps.completed_nodes(session, run_id) == {"fetch", "summarise"}
    assert [(s.node, s.attempt) for s in steps.list_for_run(session, run_id)] == [
        ("fetch", 1),
        ("summarise", 1),
        ("summarise", 2),
    ]
    assert [s.node for s in steps.list_for_run(session, run_id, attempt=2)] == ["summarise"]
    assert [s.seq for s in steps.list_for_run(session, run_id, state=steps.FAILED)] == [2]


def test_parallel_branches_get_distinct_numbers(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = _claimed_run(session)
        session.commit()

    def branch(name: str) -> None:
        with session_factory() as session:
            steps.record(session, run_id, node=name, prompt_tokens=1, cost=0.5)
            session.commit()

    assert run_in_threads(branch, [(f"branch{n}",) for n in range(5)]) == []
    with session_factory() as session:
        recorded = steps.list_for_run(session, run_id)
        assert [s.seq for s in recorded] == [1, 2, 3, 4, 5]
        assert {s.node for s in recorded} == {f"branch{n}" for n in range(5)}
        run = runs.require(session, run_id)
        assert (run.total_tokens, run.total_cost) == (5, 2.5)


def test_deleting_a_run_deletes_its_steps(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run_id = _claimed_run(session)
        steps.record(session, run_id, node="a")
        steps.record(session, run_id, node="b")
        session.commit()
        runs.delete(session, runs.require(session, run_id))
        session.commit()

    with session_factory() as session:
        assert session.scalars(select(RunStep).where(RunStep.run_id == run_id)).all() == []


def test_the_database_itself_cascades_steps(session_factory: sessionmaker[Session]) -> None:
    """A run removed by plain SQL (a retention job) takes its steps too, on both databases."""
    with session_factory() as session:
        run_id = _claimed_run(session)
        steps.record(session, run_id, node="a")
        session.commit()
        session.execute(delete(Run).where(Run.id == run_id))
        session.commit()

    with session_factory() as session:
        assert session.scalars(select(RunStep).where(RunStep.run_id == run_id)).all() == []


def test_nested_steps_are_those_under_one_node_step_only(
    session_factory: sessionmaker[Session],
) -> None:
    """A tool-using node's calls, found by their key prefix on SQLite and PostgreSQL; '_' in
    a node id is a letter, not a LIKE wildcard."""
    with session_factory() as session:
        run_id = _claimed_run(session)
        for key, state in [
            ("a_b#1/tool#1", steps.COMPLETED),
            ("aXb#1/tool#1", steps.COMPLETED),
            ("a_b#1/tool#2", steps.FAILED),
            ("a_b#1", steps.COMPLETED),
            ("a_b#10/tool#1", steps.COMPLETED),
            ("a_b#1/tool#3", steps.AWAITING_APPROVAL),
        ]:
            steps.record(session, run_id, node=key.split("#")[0], step_key=key, state=state)
        session.commit()

    with session_factory() as session:
        found = steps.nested_steps(session, run_id, "a_b#1/")

    assert [(step.step_key, step.state) for step in found] == [
        ("a_b#1/tool#1", "completed"),
        ("a_b#1/tool#2", "failed"),
        ("a_b#1/tool#3", "awaiting_approval"),
    ]
