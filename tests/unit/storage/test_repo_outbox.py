"""The tracking outbox: records stored with a run's end, claimed by one sender at a time,
settled only by the sender holding the claim; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, utcnow
from configurable_agents.storage.repositories import outbox
from tests.unit.storage._concurrent import run_in_threads


def _finished_run(session_factory: sessionmaker[Session]) -> str:
    with session_scope(session_factory) as session:
        run = run_lifecycle.create(session, workflow_name="w", inputs={}, trigger="cli")
        outbox.store_pending(session, run.id, {"run_id": run.id, "spans": []})
        return run.id


def test_a_stored_record_is_pending_and_due_at_once(
    session_factory: sessionmaker[Session],
) -> None:
    run_id = _finished_run(session_factory)

    with session_factory() as session:
        assert list(outbox.due(session)) == [run_id]
        row = outbox.get(session, run_id)
        assert row is not None and (row.state, row.attempts) == ("pending", 0)
        assert session.get(Run, run_id).tracking_status == "pending"  # type: ignore[union-attr]
        assert outbox.counts(session) == {"pending": 1, "sent": 0, "failed": 0}


def test_one_sender_of_many_gets_the_claim(session_factory: sessionmaker[Session]) -> None:
    run_id = _finished_run(session_factory)
    winners: list[str] = []

    def take(sender: str) -> None:
        with session_scope(session_factory) as session:
            if outbox.claim(session, run_id, sender=sender, seconds=60) is not None:
                winners.append(sender)

    assert run_in_threads(take, [(f"s{n}",) for n in range(6)]) == []
    assert len(winners) == 1
    with session_factory() as session:
        assert list(outbox.due(session)) == []  # held: nobody else sees it due


def test_only_the_claim_holder_settles_and_the_run_mirrors_it(
    session_factory: sessionmaker[Session],
) -> None:
    run_id = _finished_run(session_factory)
    with session_scope(session_factory) as session:
        assert outbox.claim(session, run_id, sender="a", seconds=60) is not None

    with session_scope(session_factory) as session:
        assert not outbox.mark_sent(session, run_id, sender="b", mlflow_run_id="x")
        assert outbox.mark_sent(session, run_id, sender="a", mlflow_run_id="m1")
        # Settled: a late second settlement changes nothing.
        assert not outbox.mark_failed(session, run_id, sender="a", error="late")

    with session_factory() as session:
        row = outbox.get(session, run_id)
        run = session.get(Run, run_id)
        assert row is not None and run is not None
        assert (row.state, row.mlflow_run_id, row.attempts) == ("sent", "m1", 1)
        assert row.sent_at is not None and row.claimed_by is None
        assert (run.tracking_status, run.mlflow_run_id) == ("sent", "m1")


def test_a_retry_waits_and_an_expired_claim_is_due_again(
    session_factory: sessionmaker[Session],
) -> None:
    retried, abandoned = _finished_run(session_factory), _finished_run(session_factory)
    later = utcnow() + timedelta(seconds=30)
    with session_scope(session_factory) as session:
        outbox.claim(session, retried, sender="a", seconds=60)
        assert outbox.mark_retry(
            session, retried, sender="a", error="MLflow unreachable", next_attempt_at=later
        )
        # A sender that died holding a claim: it runs out.
        outbox.claim(session, abandoned, sender="dead", seconds=5)

    with session_factory() as session:
        assert list(outbox.due(session)) == []
        after = utcnow() + timedelta(seconds=31)
        assert sorted(outbox.due(session, now=after)) == sorted([retried, abandoned])
        row = outbox.get(session, retried)
        assert row is not None and (row.state, row.last_error) == ("pending", "MLflow unreachable")
        assert session.get(Run, retried).tracking_status == "pending: MLflow unreachable"  # type: ignore[union-attr]


def test_a_refused_record_is_failed_with_the_reason(
    session_factory: sessionmaker[Session],
) -> None:
    run_id = _finished_run(session_factory)
    with session_scope(session_factory) as session:
        outbox.claim(session, run_id, sender="a", seconds=60)
        assert outbox.mark_failed(session, run_id, sender="a", error="INVALID_PARAMETER_VALUE")

    with session_factory() as session:
        assert outbox.counts(session) == {"pending": 0, "sent": 0, "failed": 1}
        assert list(outbox.due(session, now=utcnow() + timedelta(days=1))) == []
