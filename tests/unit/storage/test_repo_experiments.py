"""Experiments: variants, dataset, results and per-variant summaries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.errors import (
    ExperimentNameTakenError,
    ExperimentNotFoundError,
    VariantNotFoundError,
)
from configurable_agents.storage.models import (
    Experiment,
    ExperimentResult,
    ExperimentVariant,
    utcnow,
)
from configurable_agents.storage.repositories import experiments, runs, workflows

DATASET = [{"text": "first"}, {"text": "second"}, {"text": "third"}]
VARIANTS = {"baseline": {}, "terse": {"nodes.summarise.prompt": "Be terse: {text}"}}


def _experiment(session: Session, name: str = "prompt-test") -> Experiment:
    workflow = workflows.save(session, name="summarise", config_yaml="name: summarise\n")[0]
    return experiments.create(
        session, name=name, variants=VARIANTS, dataset=DATASET, workflow_id=workflow.id
    )


def test_create_round_trips_variants_and_dataset(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        experiment_id = _experiment(session).id
        session.commit()

    with session_factory() as session:
        experiment = experiments.get(session, experiment_id)
        assert (experiment.name, experiment.status, experiment.dataset) == (
            "prompt-test",
            "draft",
            DATASET,
        )
        assert {v.name: v.overrides for v in experiment.variants} == VARIANTS
        assert experiment.created_at.tzinfo is not None
        assert experiments.get_by_name(session, "prompt-test") is experiment


def test_bad_definitions_are_named_errors(session: Session) -> None:
    _experiment(session)

    with pytest.raises(ExperimentNameTakenError, match="prompt-test"):
        experiments.create(session, name="prompt-test", variants=VARIANTS, dataset=DATASET)
    with pytest.raises(ValueError, match="at least one variant"):
        experiments.create(session, name="empty", variants={}, dataset=DATASET)
    with pytest.raises(ValueError, match="dataset must be a list"):
        experiments.create(session, name="x", variants=VARIANTS, dataset={"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ExperimentNotFoundError):
        experiments.get(session, 999_999)


def test_results_and_summary_per_variant(session: Session) -> None:
    experiment = _experiment(session)
    run = run_lifecycle.create(session, workflow_name="summarise", inputs=DATASET[0])
    experiments.record_result(
        session,
        experiment,
        variant_name="baseline",
        item_index=0,
        run_id=run.id,
        score=0.5,
        metrics={"tokens": 100, "cost": 0.02, "passed": True, "note": "ok"},
    )
    experiments.record_result(
        session,
        experiment,
        variant_name="baseline",
        item_index=1,
        score=1.0,
        metrics={"tokens": 50},
    )
    experiments.record_result(session, experiment, variant_name="terse", item_index=0)

    baseline, terse = experiments.summary(session, experiment)

    assert (baseline.name, baseline.items, baseline.results, baseline.scored) == (
        "baseline",
        3,
        2,
        2,
    )
    assert (baseline.mean_score, baseline.min_score, baseline.max_score) == (0.75, 0.5, 1.0)
    assert baseline.metric_means == {"cost": 0.02, "tokens": 75.0}
    assert (terse.results, terse.scored, terse.mean_score, terse.metric_means) == (1, 0, None, {})
    listed = experiments.list_results(session, experiment, variant_name="baseline")
    assert [(r.item_index, r.run_id) for r in listed] == [(0, run.id), (1, None)]


def test_recording_an_item_again_replaces_it(session: Session) -> None:
    experiment = _experiment(session)
    experiments.record_result(session, experiment, variant_name="terse", item_index=2, score=0.1)
    experiments.record_result(session, experiment, variant_name="terse", item_index=2, score=0.9)

    (only,) = experiments.list_results(session, experiment, variant_name="terse")
    assert only.score == 0.9
    assert experiments.summary(session, experiment)[1].results == 1


def test_result_errors_name_the_problem(session: Session) -> None:
    experiment = _experiment(session)

    with pytest.raises(VariantNotFoundError, match="'verbose'"):
        experiments.record_result(session, experiment, variant_name="verbose", item_index=0)
    with pytest.raises(ValueError, match="has 3 dataset items; item 3 does not exist"):
        experiments.record_result(session, experiment, variant_name="terse", item_index=3)


def test_status_and_listing_newest_first(session: Session) -> None:
    older = _experiment(session, "older")
    newer = experiments.create(session, name="newer", variants={"a": {}}, dataset=[])
    older.created_at = utcnow() - timedelta(days=1)
    experiments.set_status(session, older, "running")

    assert [e.name for e in experiments.list_experiments(session)] == ["newer", "older"]
    assert [
        e.name for e in experiments.list_experiments(session, workflow_id=older.workflow_id)
    ] == ["older"]
    assert older.status == "running" and newer.status == "draft"
    with pytest.raises(ValueError, match="status must be one of"):
        experiments.set_status(session, older, "paused")


def test_delete_cascades_and_deleted_runs_leave_results(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        experiment = _experiment(session)
        run = run_lifecycle.create(session, workflow_name="summarise", inputs={})
        result = experiments.record_result(
            session, experiment, variant_name="baseline", item_index=0, run_id=run.id, score=1.0
        )
        session.commit()
        runs.delete(session, run)
        session.commit()
        session.refresh(result)
        assert (result.run_id, result.score) == (None, 1.0)

        experiment_id = experiment.id
        experiments.delete(session, experiment)
        session.commit()

    with session_factory() as session:
        for model in (ExperimentVariant, ExperimentResult):
            rows = session.scalars(select(model).where(model.experiment_id == experiment_id))
            assert rows.all() == []
