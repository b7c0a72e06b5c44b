"""Experiments: workflow variants compared over a dataset, their results and summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
from configurable_agents.storage.values import require_storable

STATUSES = ("draft", "running", "completed", "failed", "cancelled")
# The states of a cell (one run of one row by one variant).
PENDING, SCORED, FAILED, CANCELLED = "pending", "scored", "failed", "cancelled"
CELL_STATES = (PENDING, SCORED, FAILED, CANCELLED)


@dataclass(frozen=True)
class VariantSummary:
    """How one variant did over the dataset."""

    variant_id: int
    name: str
    items: int
    results: int
    scored: int
    mean_score: float | None
    min_score: float | None
    max_score: float | None
    # Mean of every numeric metric the results report (tokens, cost, latency_ms, ...).
    metric_means: dict[str, float] = field(default_factory=dict)


def create(
    session: Session,
    *,
    name: str,
    variants: Mapping[str, dict[str, Any]],
    dataset: list[Any],
    workflow_id: int | None = None,
    description: str = "",
    dataset_id: int | None = None,
    definition: dict[str, Any] | None = None,
    repeats: int = 1,
    baseline: str | None = None,
) -> Experiment:
    """An experiment in draft with its variants (name -> overrides) and dataset items."""
    require_storable(
        {"name": name, "description": description, "variants": variants, "dataset": dataset}, ()
    )
    if not variants:
        raise ValueError(f"experiment {name!r} needs at least one variant")
    if not isinstance(dataset, list):
        raise ValueError(f"experiment {name!r}: the dataset must be a list of input items")
    if get_by_name(session, name) is not None:
        raise ExperimentNameTakenError(f"an experiment named {name!r} already exists")
    experiment = Experiment(
        name=name,
        workflow_id=workflow_id,
        description=description,
        dataset=dataset,
        dataset_id=dataset_id,
        definition=definition or {},
        repeats=repeats,
        baseline=baseline,
    )
    experiment.variants = [
        ExperimentVariant(name=variant, overrides=overrides)
        for variant, overrides in variants.items()
    ]
    session.add(experiment)
    session.flush()
    return experiment


def get(session: Session, experiment_id: int) -> Experiment:
    """An experiment by id, or ExperimentNotFoundError."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise ExperimentNotFoundError(f"no experiment with id {experiment_id}")
    return experiment


def get_by_name(session: Session, name: str) -> Experiment | None:
    """An experiment by its unique name."""
    return session.scalar(select(Experiment).where(Experiment.name == name))


def list_experiments(
    session: Session, *, workflow_id: int | None = None, limit: int = 100
) -> Sequence[Experiment]:
    """Experiments, newest first."""
    query = select(Experiment)
    if workflow_id is not None:
        query = query.where(Experiment.workflow_id == workflow_id)
    return session.scalars(
        query.order_by(Experiment.created_at.desc(), Experiment.id.desc()).limit(limit)
    ).all()


def set_status(session: Session, experiment: Experiment, status: str) -> Experiment:
    """Move the experiment to draft, running, completed or failed."""
    if status not in STATUSES:
        raise ValueError(f"experiment status must be one of {', '.join(STATUSES)}, got {status!r}")
    experiment.status = status
    session.flush()
    return experiment


def variant(session: Session, experiment: Experiment, name: str) -> ExperimentVariant:
    """A variant of the experiment by name, or VariantNotFoundError."""
    found = session.scalar(
        select(ExperimentVariant).where(
            ExperimentVariant.experiment_id == experiment.id, ExperimentVariant.name == name
        )
    )
    if found is None:
        raise VariantNotFoundError(f"experiment {experiment.name!r} has no variant {name!r}")
    return found


def record_result(
    session: Session,
    experiment: Experiment,
    *,
    variant_name: str,
    item_index: int,
    run_id: str | None = None,
    score: float | None = None,
    metrics: dict[str, Any] | None = None,
) -> ExperimentResult:
    """Store the outcome of one variant on one dataset item; recording it again replaces it."""
    if not 0 <= item_index < len(experiment.dataset):
        raise ValueError(
            f"experiment {experiment.name!r} has {len(experiment.dataset)} dataset items; "
            f"item {item_index} does not exist"
        )
    arm = variant(session, experiment, variant_name)
    result = session.scalar(
        select(ExperimentResult).where(
            ExperimentResult.variant_id == arm.id, ExperimentResult.item_index == item_index
        )
    )
    if result is None:
        result = ExperimentResult(experiment=experiment, variant_id=arm.id, item_index=item_index)
        session.add(result)
    result.run_id, result.score, result.metrics = run_id, score, metrics or {}
    result.created_at = utcnow()
    session.flush()
    return result


def list_results(
    session: Session, experiment: Experiment, *, variant_name: str | None = None
) -> Sequence[ExperimentResult]:
    """Results by variant, then dataset item."""
    query = select(ExperimentResult).where(ExperimentResult.experiment_id == experiment.id)
    if variant_name is not None:
        query = query.where(
            ExperimentResult.variant_id == variant(session, experiment, variant_name).id
        )
    return session.scalars(
        query.order_by(ExperimentResult.variant_id, ExperimentResult.item_index)
    ).all()


def summary(session: Session, experiment: Experiment) -> list[VariantSummary]:
    """One line per variant, in the order the variants were created."""
    by_variant: dict[int, list[ExperimentResult]] = {}
    for result in list_results(session, experiment):
        by_variant.setdefault(result.variant_id, []).append(result)
    return [
        _summarise(arm, by_variant.get(arm.id, []), len(experiment.dataset))
        for arm in experiment.variants
    ]


def add_cell(
    session: Session,
    experiment: Experiment,
    *,
    variant_id: int,
    item_index: int,
    repeat: int,
    run_id: str,
) -> ExperimentResult:
    """A pending cell whose run is ``run_id``."""
    cell = ExperimentResult(
        experiment=experiment,
        variant_id=variant_id,
        item_index=item_index,
        repeat=repeat,
        run_id=run_id,
        state=PENDING,
    )
    session.add(cell)
    return cell


def cell_of_run(session: Session, run_id: str) -> ExperimentResult | None:
    """The cell a run belongs to (None for a run outside experiments)."""
    return session.scalar(select(ExperimentResult).where(ExperimentResult.run_id == run_id))


def variant_config_of_run(session: Session, run_id: str) -> str | None:
    """The config text a cell's run executes: its variant's (None outside experiments)."""
    return session.scalar(
        select(ExperimentVariant.config_yaml)
        .join(ExperimentResult, ExperimentResult.variant_id == ExperimentVariant.id)
        .where(ExperimentResult.run_id == run_id)
    )


def cells(
    session: Session, experiment_id: int, *, states: Sequence[str] | None = None
) -> Sequence[ExperimentResult]:
    """The cells of an experiment by variant, row and repeat (optionally in some states)."""
    query = select(ExperimentResult).where(ExperimentResult.experiment_id == experiment_id)
    if states is not None:
        query = query.where(ExperimentResult.state.in_(states))
    return session.scalars(
        query.order_by(
            ExperimentResult.variant_id, ExperimentResult.item_index, ExperimentResult.repeat
        )
    ).all()


def count_cells(session: Session, experiment_id: int, *, states: Sequence[str]) -> int:
    """How many cells of an experiment are in these states."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ExperimentResult)
            .where(
                ExperimentResult.experiment_id == experiment_id,
                ExperimentResult.state.in_(states),
            )
        )
        or 0
    )


def cell_counts(
    session: Session, experiment_ids: Sequence[int]
) -> dict[int, dict[int, dict[str, int]]]:
    """experiment id -> variant id -> cell state -> count: one grouped query."""
    counts: dict[int, dict[int, dict[str, int]]] = {}
    if not experiment_ids:
        return counts
    rows = session.execute(
        select(
            ExperimentResult.experiment_id,
            ExperimentResult.variant_id,
            ExperimentResult.state,
            func.count(),
        )
        .where(ExperimentResult.experiment_id.in_(list(experiment_ids)))
        .group_by(
            ExperimentResult.experiment_id, ExperimentResult.variant_id, ExperimentResult.state
        )
    ).all()
    for experiment_id, variant_id, state, count in rows:
        counts.setdefault(experiment_id, {}).setdefault(variant_id, {})[state] = count
    return counts


def delete(session: Session, experiment: Experiment) -> None:
    """Remove an experiment with its variants and results."""
    session.delete(experiment)
    session.flush()


def _summarise(
    arm: ExperimentVariant, results: list[ExperimentResult], items: int
) -> VariantSummary:
    scores = [result.score for result in results if result.score is not None]
    numbers: dict[str, list[float]] = {}
    for result in results:
        for key, value in result.metrics.items():
            # bool is an int subclass but not a measurement.
            if isinstance(value, int | float) and not isinstance(value, bool):
                numbers.setdefault(key, []).append(float(value))
    return VariantSummary(
        variant_id=arm.id,
        name=arm.name,
        items=items,
        results=len(results),
        scored=len(scores),
        mean_score=fmean(scores) if scores else None,
        min_score=min(scores) if scores else None,
        max_score=max(scores) if scores else None,
        metric_means={key: fmean(values) for key, values in sorted(numbers.items())},
    )
