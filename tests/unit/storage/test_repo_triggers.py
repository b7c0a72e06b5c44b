"""Trigger events: idempotent deliveries, rejected ones kept, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import TriggerEventNotFoundError
from configurable_agents.storage.models import utcnow
from configurable_agents.storage.repositories import runs, triggers
from tests.unit.storage._concurrent import run_in_threads


def test_first_delivery_is_accepted_and_round_trips(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        recorded = triggers.record(
            session, workflow_name="triage", kind="webhook", key="delivery-1", detail="from CI"
        )
        session.commit()

    assert recorded.duplicate is False
    with session_factory() as session:
        event = triggers.get(session, recorded.event.id)
        assert (event.workflow_name, event.kind, event.idempotency_key, event.status) == (
            "triage",
            "webhook",
            "delivery-1",
            "accepted",
        )
        assert event.detail == "from CI" and event.received_at.tzinfo is not None


def test_repeat_returns_the_first_event_and_the_session_stays_usable(session: Session) -> None:
    run = run_lifecycle.create(session, workflow_name="triage", inputs={}, trigger="webhook")
    first = triggers.record(session, workflow_name="triage", kind="webhook", key="d-1")
    triggers.attach_run(session, first.event, run.id)

    again = triggers.record(session, workflow_name="triage", kind="webhook", key="d-1")

    assert again.duplicate is True
    assert again.event.id == first.event.id and again.event.run_id == run.id
    # The same transaction goes on working and commits.
    other = triggers.record(session, workflow_name="triage", kind="webhook", key="d-2")
    session.commit()
    assert other.duplicate is False
    assert len(triggers.list_events(session)) == 2


def test_repeat_from_another_session_after_commit(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        first = triggers.record(
            session, workflow_name="nightly", kind="schedule", key="0 3 * * *@t1"
        )
        session.commit()

    with session_factory() as session:
        again = triggers.record(
            session, workflow_name="nightly", kind="schedule", key="0 3 * * *@t1"
        )
        session.commit()

    assert again.duplicate is True and again.event.id == first.event.id


def test_same_key_for_other_workflow_or_kind_is_not_a_repeat(session: Session) -> None:
    triggers.record(session, workflow_name="a", kind="webhook", key="k")

    assert triggers.record(session, workflow_name="b", kind="webhook", key="k").duplicate is False
    assert triggers.record(session, workflow_name="a", kind="schedule", key="k").duplicate is False


def test_rejected_delivery_is_kept_and_does_not_block_a_good_one(session: Session) -> None:
    rejected = triggers.record_rejected(
        session, workflow_name="triage", kind="webhook", key="d-1", detail="bad signature"
    )
    rejected_again = triggers.record_rejected(
        session, workflow_name="triage", kind="webhook", key="d-1", detail="bad signature"
    )
    good = triggers.record(session, workflow_name="triage", kind="webhook", key="d-1")

    assert good.duplicate is False and good.event.id not in (rejected.id, rejected_again.id)
    assert (
        triggers.get_accepted(session, workflow_name="triage", kind="webhook", key="d-1")
        == good.event
    )
    statuses = [e.status for e in triggers.list_events(session, workflow_name="triage")]
    assert sorted(statuses) == ["accepted", "rejected", "rejected"]
    assert [e.detail for e in triggers.list_events(session, status="rejected")] == [
        "bad signature",
        "bad signature",
    ]


def test_listing_newest_first_with_filters(session: Session) -> None:
    now = utcnow()
    made = []
    for minutes, (workflow, kind) in enumerate(
        [("a", "webhook"), ("b", "schedule"), ("a", "schedule"), ("a", "webhook")]
    ):
        event = triggers.record(session, workflow_name=workflow, kind=kind, key=f"k{minutes}").event
        event.received_at = now - timedelta(minutes=10 - minutes)
        made.append(event)
    session.flush()

    assert [e.id for e in triggers.list_events(session)] == [e.id for e in reversed(made)]
    assert [e.id for e in triggers.list_events(session, workflow_name="a", kind="webhook")] == [
        made[3].id,
        made[0].id,
    ]
    assert [e.id for e in triggers.list_events(session, limit=1)] == [made[3].id]


def test_bad_kind_and_missing_event_are_named_errors(session: Session) -> None:
    with pytest.raises(ValueError, match="trigger kind must be one of"):
        triggers.record(session, workflow_name="a", kind="email", key="k")
    with pytest.raises(TriggerEventNotFoundError):
        triggers.get(session, 123_456)


def test_deleting_the_run_keeps_the_event(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        run = run_lifecycle.create(session, workflow_name="triage", inputs={}, trigger="webhook")
        event = triggers.record(
            session, workflow_name="triage", kind="webhook", key="d-1", run_id=run.id
        ).event
        session.commit()
        runs.delete(session, run)
        session.commit()
        event_id = event.id

    with session_factory() as session:
        assert triggers.get(session, event_id).run_id is None


def test_simultaneous_deliveries_accept_exactly_one(session_factory: sessionmaker[Session]) -> None:
    outcomes: list[bool] = []

    def deliver() -> None:
        with session_factory() as session:
            recorded = triggers.record(session, workflow_name="t", kind="webhook", key="same")
            session.commit()
            outcomes.append(recorded.duplicate)

    assert run_in_threads(deliver, [()] * 5) == []
    assert sorted(outcomes) == [False, True, True, True, True]
