"""Schedule ticks: each has one recorded outcome (started, skipped as missed, refused with
the reason) over any number of checks, and the catch_up policy decides which missed ticks
start; on SQLite and PostgreSQL (the queue is the SQLite file: nothing consumes it here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.queue.schedules import tick
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, TriggerEvent
from configurable_agents.storage.repositories import triggers, workflows
from tests.unit.storage._concurrent import run_in_threads

# Every ten minutes; the workflow (and so the schedule) exists from an hour before NOW.
WORKFLOW = """\
schema_version: 1
name: ten-minutes
state:
  text: {{type: str, required: true}}
  out: {{type: str}}
nodes:
  - {{id: one, kind: llm, prompt: "echo {{text}}", output: out}}
edges:
  - {{from: START, to: one}}
  - {{from: one, to: END}}
schedules:
  - cron: "*/10 * * * *"
    inputs: {{text: tick}}
{policy}
"""
SAVED = datetime(2026, 3, 2, 11, 0, 30, tzinfo=UTC)
# 12:00 is 30 s old: on time. 11:10 .. 11:50 were missed.
ON_TIME = SAVED + timedelta(hours=1)
# 12:00 is five minutes old: every tick since the save was missed.
ALL_MISSED = SAVED + timedelta(hours=1, minutes=4, seconds=30)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir, tracking_enabled=False)


def save(factory: sessionmaker[Session], policy: str = "") -> None:
    with session_scope(factory) as session:
        _, version = workflows.save(
            session, name="ten-minutes", config_yaml=WORKFLOW.format(policy=policy)
        )
        version.created_at = SAVED


def outcomes(factory: sessionmaker[Session]) -> dict[str, tuple[str, bool, str]]:
    """Tick time (HH:MM) -> (outcome, started a run, detail)."""
    with factory() as session:
        events = triggers.list_events(session, workflow_name="ten-minutes", kind="schedule")
        return {
            event.idempotency_key.rsplit("T", 1)[1][:5]: (
                event.outcome,
                event.run_id is not None,
                event.detail,
            )
            for event in events
        }


MISSED = ["11:10", "11:20", "11:30", "11:40", "11:50"]


def test_catch_up_none_starts_the_tick_on_time_and_records_the_missed_ones_skipped(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    save(session_factory)

    results = tick(settings, session_factory, now=ON_TIME)

    seen = outcomes(session_factory)
    assert sorted(seen) == [*MISSED, "12:00"]
    assert seen["12:00"][:2] == ("started", True)
    for missed in MISSED:
        outcome, started, detail = seen[missed]
        assert (outcome, started) == ("skipped", False)
        assert "missed: no worker checked it in time" in detail and "catch_up: none" in detail
    assert [r.outcome for r in results].count("started") == 1
    with session_factory() as session:
        [run] = session.query(Run).all()
        assert (run.trigger, run.inputs, run.state) == ("schedule", {"text": "tick"}, "queued")


def test_catch_up_latest_starts_the_most_recent_missed_tick(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    save(session_factory, "    catch_up: latest")

    tick(settings, session_factory, now=ALL_MISSED)

    seen = outcomes(session_factory)
    assert seen["12:00"][:2] == ("started", True)
    assert "caught up: catch_up latest" in seen["12:00"][2]
    assert {seen[m][0] for m in MISSED} == {"skipped"}
    assert "a later tick was started" in seen["11:50"][2]


def test_catch_up_all_starts_at_most_the_bound_oldest_first(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    save(session_factory, "    catch_up: all\n    max_catch_up: 3")

    results = tick(settings, session_factory, now=ALL_MISSED)

    seen = outcomes(session_factory)
    assert [t for t in sorted(seen) if seen[t][0] == "started"] == ["11:40", "11:50", "12:00"]
    assert [t for t in sorted(seen) if seen[t][0] == "skipped"] == ["11:10", "11:20", "11:30"]
    assert "beyond max_catch_up 3" in seen["11:10"][2]
    started = [r for r in results if r.outcome == "started"]
    with session_factory() as session:
        runs = session.query(Run).order_by(Run.created_at).all()
    # Started oldest tick first.
    tick_of_run = {r.run_id: r.key.rsplit("T", 1)[1][:5] for r in started}
    assert [tick_of_run[run.id] for run in runs] == ["11:40", "11:50", "12:00"]


def test_many_checks_of_the_same_ticks_record_each_tick_once(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    save(session_factory, "    catch_up: latest")

    errors = run_in_threads(
        lambda: tick(settings, session_factory, now=ALL_MISSED), [() for _ in range(4)]
    )
    again = tick(settings, session_factory, now=ALL_MISSED + timedelta(seconds=20))

    assert errors == []
    assert again == []  # nothing after the last tick handled
    with session_factory() as session:
        events = session.query(TriggerEvent).all()
        assert len(events) == len({e.idempotency_key for e in events}) == 6
        assert session.query(Run).count() == 1


def test_a_refused_start_is_recorded_with_the_reason_and_not_retried(
    data_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    settings = load_settings(data_dir=data_dir, tracking_enabled=False, queue_max_depth=1)
    save(session_factory)
    with session_scope(session_factory) as session:  # the queue is full
        run_lifecycle.create(session, workflow_name="other", inputs={}, trigger="api")

    tick(settings, session_factory, now=ON_TIME)
    tick(settings, session_factory, now=ON_TIME + timedelta(seconds=30))

    outcome, started, detail = outcomes(session_factory)["12:00"]
    assert (outcome, started) == ("refused", False)
    assert detail.startswith("refused: ") and "QUEUE_MAX_DEPTH" in detail
    with session_factory() as session:
        assert session.query(Run).count() == 1
        assert session.query(TriggerEvent).filter_by(outcome="refused").count() == 1


def test_a_later_tick_starts_after_the_last_handled_one(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    save(session_factory)
    tick(settings, session_factory, now=ON_TIME)

    tick(settings, session_factory, now=ON_TIME + timedelta(minutes=10))

    seen = outcomes(session_factory)
    assert seen["12:10"][:2] == ("started", True)
    assert len(seen) == 7
