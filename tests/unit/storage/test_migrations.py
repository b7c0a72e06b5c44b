"""Migrations up from empty, on SQLite and PostgreSQL, and the migration lock."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, inspect

from configurable_agents.storage.migrations import (
    current_revision,
    head_revision,
    schema_state,
    upgrade_to_head,
)
from configurable_agents.storage.models import Base


def test_empty_database_has_no_revision(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    assert not schema_state(empty_engine).at_head


def test_upgrade_from_empty_creates_every_table(empty_engine: Engine, data_dir: Path) -> None:
    state = upgrade_to_head(empty_engine, data_dir)

    assert state.at_head and state.current == head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_schema_matches_models_after_upgrade(empty_engine: Engine, data_dir: Path) -> None:
    """The migrations create exactly what the models declare (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade_to_head(empty_engine, data_dir)
    with empty_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_concurrent_upgrades_both_succeed(empty_engine: Engine, data_dir: Path) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade_to_head(empty_engine, data_dir)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert schema_state(empty_engine).at_head


def test_fast_head_revision_agrees_with_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from configurable_agents.storage.migrations import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert [head_revision()] == ScriptDirectory.from_config(config).get_heads()


def test_upgrade_keeps_the_data_the_previous_head_wrote(
    empty_engine: Engine, data_dir: Path
) -> None:
    """0001 -> 0002 (API keys, run watches, step partials) on a database holding runs."""
    from alembic import command
    from sqlalchemy import text

    from configurable_agents.storage.migrations import _alembic_config

    command.upgrade(_alembic_config(empty_engine), "0001")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO workflows (id, name, description, source, latest_version, "
                "created_at, updated_at) VALUES (1, 'kept', '', 'user', 1, :now, :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO runs (id, workflow_id, workflow_name, state, inputs, trigger, "
                "attempts, cancel_requested, total_tokens, total_cost, created_at) VALUES "
                "('r1', 1, 'kept', 'completed', '{}', 'cli', 1, false, 7, 0.5, :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )

    upgrade_to_head(empty_engine, data_dir)

    assert schema_state(empty_engine).at_head
    with empty_engine.begin() as connection:
        assert connection.execute(text("SELECT name FROM workflows")).scalar_one() == "kept"
        assert connection.execute(text("SELECT total_tokens FROM runs")).scalar_one() == 7
        # The new tables take rows, tied to the runs the old head wrote.
        connection.execute(
            text("INSERT INTO run_watches (run_id, expires_at) VALUES ('r1', :now)"),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO step_partials (run_id, node, generation, text, started_at, "
                "updated_at) VALUES ('r1', 'n', 1, 'so far', :now, :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                "VALUES ('k', 'ca_abc', 'h', :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        partial = connection.execute(text("SELECT text FROM step_partials")).scalar_one()
    assert partial == "so far"


def test_0003_upgrades_a_database_holding_data_written_at_0002(
    empty_engine: Engine, data_dir: Path
) -> None:
    """Refusal counters arrive beside the trigger events already stored, which stay."""
    from alembic import command
    from sqlalchemy import text

    from configurable_agents.storage.database import make_session_factory, session_scope
    from configurable_agents.storage.migrations import _alembic_config
    from configurable_agents.storage.repositories import refusals

    command.upgrade(_alembic_config(empty_engine), "0002")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO trigger_events (workflow_name, kind, idempotency_key, status, "
                "detail, received_at) VALUES ('w', 'webhook', 'd-1', 'rejected', "
                "'HTTP 401: the X-Signature-256 signature does not match the body', "
                "CURRENT_TIMESTAMP)"
            )
        )

    upgrade_to_head(empty_engine, data_dir)

    with empty_engine.connect() as connection:
        kept = connection.execute(text("SELECT idempotency_key FROM trigger_events")).all()
    assert [row[0] for row in kept] == ["d-1"]
    with session_scope(make_session_factory(empty_engine)) as session:
        for _ in range(3):
            refusals.count(session, source="webhook", subject="w", status=401, reason="r")
    with make_session_factory(empty_engine)() as session:
        assert [(r.subject, r.count) for r in refusals.list_refusals(session)] == [("w", 3)]


def test_0005_upgrades_a_database_holding_data_written_at_0004(
    empty_engine: Engine, data_dir: Path
) -> None:
    """The tracking outbox arrives beside finished runs, which stay; stored trigger events
    get their outcome (a rejected delivery was refused)."""
    from alembic import command
    from sqlalchemy import text

    from configurable_agents.storage.database import make_session_factory, session_scope
    from configurable_agents.storage.migrations import _alembic_config
    from configurable_agents.storage.repositories import outbox, triggers

    command.upgrade(_alembic_config(empty_engine), "0004")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (id, workflow_name, state, inputs, trigger, attempts, "
                "cancel_requested, total_tokens, total_cost, created_at, epoch) VALUES "
                "('r1', 'w', 'completed', '{}', 'cli', 1, false, 7, 0.5, CURRENT_TIMESTAMP, 1)"
            )
        )
        for key, status in (("d-1", "accepted"), ("d-2", "rejected")):
            connection.execute(
                text(
                    "INSERT INTO trigger_events (workflow_name, kind, idempotency_key, status, "
                    "detail, received_at) VALUES ('w', 'webhook', :key, :status, '', "
                    "CURRENT_TIMESTAMP)"
                ),
                {"key": key, "status": status},
            )

    upgrade_to_head(empty_engine, data_dir)

    with empty_engine.connect() as connection:
        outcomes = connection.execute(
            text("SELECT idempotency_key, outcome FROM trigger_events ORDER BY idempotency_key")
        ).all()
    assert [tuple(row) for row in outcomes] == [("d-1", "started"), ("d-2", "refused")]
    factory = make_session_factory(empty_engine)
    with session_scope(factory) as session:
        outbox.store_pending(session, "r1", {"run_id": "r1"})
        triggers.record(
            session, workflow_name="w", kind="schedule", key="k", outcome=triggers.SKIPPED
        )
    with factory() as session:
        assert outbox.counts(session) == {"pending": 1, "sent": 0, "failed": 0}
        assert session.execute(text("SELECT total_tokens FROM runs")).scalar_one() == 7


def test_0004_upgrades_a_database_holding_data_written_at_0003(
    empty_engine: Engine, data_dir: Path
) -> None:
    """Runs and steps written at 0003 get epoch 0; a queued run counts as enqueued when it
    was created (so the reconciler wakes it); the timeline takes entries for old runs."""
    from alembic import command
    from sqlalchemy import text

    from configurable_agents.storage.database import make_session_factory, session_scope
    from configurable_agents.storage.migrations import _alembic_config
    from configurable_agents.storage.repositories import run_events

    command.upgrade(_alembic_config(empty_engine), "0003")
    created = "2026-01-01 00:00:00+00:00"
    with empty_engine.begin() as connection:
        for run_id, state in (("q1", "queued"), ("d1", "completed")):
            connection.execute(
                text(
                    "INSERT INTO runs (id, workflow_name, state, inputs, trigger, attempts, "
                    "cancel_requested, total_tokens, total_cost, created_at) VALUES "
                    "(:id, 'kept', :state, '{}', 'api', 0, false, 0, 0, :now)"
                ),
                {"id": run_id, "state": state, "now": created},
            )
        connection.execute(
            text(
                "INSERT INTO run_steps (run_id, seq, node, step_key, kind, state, "
                "prompt_tokens, completion_tokens, cost, latency_ms, attempt, started_at) "
                "VALUES ('d1', 1, 'n', 'n#1', 'llm', 'completed', 0, 0, 0, 0, 1, :now)"
            ),
            {"now": created},
        )

    upgrade_to_head(empty_engine, data_dir)

    with empty_engine.connect() as connection:
        rows = connection.execute(text("SELECT id, epoch, enqueued_at FROM runs ORDER BY id"))
        found = {row[0]: (row[1], row[2] is not None) for row in rows}
        step_epoch = connection.execute(text("SELECT epoch FROM run_steps")).scalar_one()
    assert found == {"d1": (0, False), "q1": (0, True)}
    assert step_epoch is None
    with session_scope(make_session_factory(empty_engine)) as session:
        run_events.add(session, "q1", run_events.RECONCILED, "woken")
    with make_session_factory(empty_engine)() as session:
        assert [e.kind for e in run_events.list_for_run(session, "q1")] == ["reconciled"]


def test_0006_upgrades_a_database_holding_data_written_at_0005(
    empty_engine: Engine, data_dir: Path
) -> None:
    """Experiments, variants and results stored before cells existed stay readable: a
    result becomes a scored cell of repeat 0, and runs are outside every experiment."""
    from alembic import command
    from sqlalchemy import text

    from configurable_agents.storage.database import make_session_factory, session_scope
    from configurable_agents.storage.migrations import _alembic_config
    from configurable_agents.storage.repositories import datasets, experiments

    command.upgrade(_alembic_config(empty_engine), "0005")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO experiments (id, name, description, dataset, status, created_at) "
                "VALUES (1, 'old', '', '[{\"text\": \"a\"}]', 'completed', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO experiment_variants (id, experiment_id, name, overrides) "
                "VALUES (1, 1, 'base', '{}')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO experiment_results (experiment_id, variant_id, item_index, score, "
                "metrics, created_at) VALUES (1, 1, 0, 0.5, '{}', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO runs (id, workflow_name, state, inputs, trigger, attempts, "
                "cancel_requested, total_tokens, total_cost, created_at) VALUES "
                "('r1', 'w', 'completed', '{}', 'cli', 1, false, 0, 0, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO run_steps (run_id, seq, node, kind, state, prompt_tokens, "
                "completion_tokens, cost, latency_ms, attempt, started_at) VALUES "
                "('r1', 1, 'n', 'llm', 'completed', 0, 0, 0, 0, 1, CURRENT_TIMESTAMP)"
            )
        )

    upgrade_to_head(empty_engine, data_dir)

    factory = make_session_factory(empty_engine)
    with factory() as session:
        (cell,) = experiments.cells(session, 1)
        assert (cell.repeat, cell.state, cell.scores, cell.score) == (0, "scored", {}, 0.5)
        experiment = experiments.get(session, 1)
        assert (experiment.repeats, experiment.definition, experiment.judge_cost) == (1, {}, 0.0)
        assert session.execute(text("SELECT experiment_id FROM runs")).scalar_one() is None
        # Recreating runs (SQLite's batch copy) did not cascade to their steps.
        assert session.execute(text("SELECT node FROM run_steps")).scalar_one() == "n"
    with session_scope(factory) as session:
        first = datasets.add_version(session, name="d", rows=[{"inputs": {}, "expected": {}}])
        second = datasets.add_version(session, name="d", rows=[])
    assert (first.version, second.version) == (1, 2)
