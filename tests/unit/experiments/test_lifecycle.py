"""Datasets stored and versioned, "Add to dataset" from a run, cancelling an experiment
whose cells wait in the queue, and a custom scorer."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.experiments.creation import create_experiment
from configurable_agents.experiments.definition import parse_definition
from configurable_agents.experiments.errors import (
    DatasetError,
    DefinitionError,
    ExperimentStateError,
)
from configurable_agents.experiments.launch import cancel_experiment, start_experiment
from configurable_agents.experiments.local import run_local
from configurable_agents.experiments.progress import progress
from configurable_agents.experiments.report import report
from configurable_agents.experiments.stored_datasets import (
    add_run_to_dataset,
    import_dataset,
    list_datasets,
)
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import datasets, experiments, workflows
from tests.fakes import FakeLLMServer, RecordedRequest, Reply
from tests.fakes.workflows import echo_workflow

DEFINITION = """\
name: echo-exp
workflow: echo
dataset: rows.csv
repeats: 2
variants:
  - name: a
  - name: b
    llm: {temperature: 0.5}
scorers:
  - {name: custom, kind: custom, entry: "tests.unit.experiments.custom_scorers:steps_and_words"}
"""


@pytest.fixture
def workflow_id(database: Database) -> int:
    with session_scope(database.session_factory) as session:
        workflow, _ = workflows.save(session, name="echo", config_yaml=echo_workflow())
        return workflow.id


def test_datasets_are_versioned_and_checked(database: Database, workflow_id: int) -> None:
    first = import_dataset(
        database.session_factory,
        name="d",
        data=b"text\nhi\n",
        filename="d.csv",
        workflow_id=workflow_id,
    )
    second = import_dataset(
        database.session_factory,
        name="d",
        data=b'{"text": "a"}\n{"inputs": {"text": "b"}, "expected": {"reply": "B"}}\n',
        filename="d.jsonl",
        workflow_id=workflow_id,
    )
    assert (first.version, first.rows, second.version, second.rows) == (1, 1, 2, 2)
    with pytest.raises(DatasetError) as caught:
        import_dataset(
            database.session_factory,
            name="d",
            data=b"text,extra\nhi,1\n",
            filename="bad.csv",
            workflow_id=workflow_id,
        )
    assert str(caught.value) == (
        "bad.csv: row 1, column 'extra': unknown input 'extra' (did you mean 'text'?); inputs: text"
    )
    with database.session_factory() as session:
        assert [(d.name, d.version, d.rows) for d in list_datasets(session)] == [("d", 2, 2)]
        assert datasets.get(session, "d", 1).rows == [{"inputs": {"text": "hi"}, "expected": {}}]


def test_add_a_run_to_a_dataset(
    exp_settings: Settings, database: Database, workflow_id: int, fake_llm_server: FakeLLMServer
) -> None:
    from configurable_agents.engine.runner import open_engine
    from configurable_agents.storage import run_lifecycle

    fake_llm_server.push("the reply")
    with session_scope(database.session_factory) as session:
        version = workflows.get_version(session, workflow_id)
        run = run_lifecycle.create(
            session,
            workflow_name="echo",
            workflow_id=workflow_id,
            workflow_version_id=version.id,
            inputs={"text": "hi"},
        )
    with pytest.raises(ExperimentStateError, match="only a completed run"):
        add_run_to_dataset(database.session_factory, run_id=run.id, dataset_name="golden")
    with open_engine(exp_settings, database.session_factory) as engine:
        engine.execute(run.id)
    info = add_run_to_dataset(database.session_factory, run_id=run.id, dataset_name="golden")
    again = add_run_to_dataset(database.session_factory, run_id=run.id, dataset_name="golden")
    assert (info.version, info.rows, again.version, again.rows) == (1, 1, 2, 2)
    with database.session_factory() as session:
        assert datasets.get(session, "golden").rows[0] == {
            "inputs": {"text": "hi"},
            "expected": {"reply": "the reply"},
        }


def test_cancel_an_experiment_waiting_in_the_queue(
    exp_settings: Settings, database: Database, workflow_id: int, tmp_path: Path
) -> None:
    (tmp_path / "rows.csv").write_text("text,expected.words\none two,2\nthree,1\n")
    definition = parse_definition(DEFINITION, filename="exp.yaml")
    experiment_id = create_experiment(
        exp_settings, database.session_factory, definition, base_dir=tmp_path
    )
    run_ids = start_experiment(exp_settings, database.session_factory, experiment_id)
    assert len(run_ids) == 2 * 2 * 2
    with pytest.raises(ExperimentStateError, match="only a draft can start"):
        start_experiment(exp_settings, database.session_factory, experiment_id)
    assert cancel_experiment(database.session_factory, experiment_id) == 8
    with database.session_factory() as session:
        assert {session.get(Run, run_id).state for run_id in run_ids} == {"cancelled"}
        state = progress(session, [experiment_id])[experiment_id]
        assert (state.status, state.done, state.failed, state.total) == ("cancelled", 8, 8, 8)
        assert {cell.state for cell in experiments.cells(session, experiment_id)} == {"cancelled"}
    with pytest.raises(ExperimentStateError):
        cancel_experiment(database.session_factory, experiment_id)


def test_custom_scorer_sees_row_outputs_and_steps(
    exp_settings: Settings,
    database: Database,
    workflow_id: int,
    tmp_path: Path,
    fake_llm_server: FakeLLMServer,
) -> None:
    def reply(request: RecordedRequest) -> Reply:
        return Reply(text="one two" if request.body.get("temperature") == 0.5 else "one")

    fake_llm_server.default = reply
    (tmp_path / "rows.csv").write_text("text,expected.words\nx,2\ny,1\n")
    definition = parse_definition(DEFINITION, filename="exp.yaml")
    experiment_id = create_experiment(
        exp_settings, database.session_factory, definition, base_dir=tmp_path
    )
    run_local(exp_settings, database.session_factory, experiment_id)
    with database.session_factory() as session:
        found = report(session, experiment_id)
    # b answers two words: right on row 0 (wants 2); a answers one word: right on row 1.
    assert [v.scorers["custom"].mean for v in found.variants] == [0.5, 0.5]


def test_unknown_custom_scorer_is_a_definition_problem(
    exp_settings: Settings, database: Database, workflow_id: int, tmp_path: Path
) -> None:
    (tmp_path / "rows.csv").write_text("text\nx\n")
    text = DEFINITION.replace("tests.unit.experiments.custom_scorers:steps_and_words", "nope")
    with pytest.raises(DefinitionError) as caught:
        create_experiment(
            exp_settings,
            database.session_factory,
            parse_definition(text, filename="e.yaml"),
            base_dir=tmp_path,
        )
    assert "e.yaml:10:5: scorers[0]: no scorer 'nope' in the configurable_agents.scorers" in str(
        caught.value
    )


def test_custom_scorer_by_entry_point_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution that registers a scorer in the configurable_agents.scorers group (an
    installed package's metadata, found on sys.path like any other)."""
    from configurable_agents.experiments.scorers import (
        ENTRY_POINT_GROUP,
        custom_scorer,
        registered_scorers,
    )
    from tests.unit.experiments.custom_scorers import steps_and_words

    info = tmp_path / "my_scorers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-scorers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nwords = tests.unit.experiments.custom_scorers:steps_and_words\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    custom_scorer.cache_clear()
    try:
        assert "words" in registered_scorers()
        assert custom_scorer("words") is steps_and_words
    finally:
        custom_scorer.cache_clear()


def test_a_stalled_experiment_hands_its_queued_cells_to_the_queue_again(
    exp_settings: Settings, database: Database, workflow_id: int, tmp_path: Path
) -> None:
    from datetime import timedelta

    from configurable_agents.experiments.cells import requeue_stalled
    from configurable_agents.queue.huey_app import get_queue
    from configurable_agents.storage.models import Experiment, utcnow

    (tmp_path / "rows.csv").write_text("text,expected.words\none,1\n")
    definition = parse_definition(DEFINITION, filename="exp.yaml")
    experiment_id = create_experiment(
        exp_settings, database.session_factory, definition, base_dir=tmp_path
    )
    run_ids = start_experiment(exp_settings, database.session_factory, experiment_id)
    huey = get_queue(exp_settings).huey
    assert huey.pending_count() == 4
    # Just started: waiting in the queue is no stall.
    assert requeue_stalled(exp_settings, database.session_factory, experiment_id) == []
    with session_scope(database.session_factory) as session:
        session.get(Experiment, experiment_id).started_at = utcnow() - timedelta(hours=1)  # type: ignore[union-attr]
    assert sorted(requeue_stalled(exp_settings, database.session_factory, experiment_id)) == sorted(
        run_ids
    )
    assert huey.pending_count() == 8
    huey.flush()
