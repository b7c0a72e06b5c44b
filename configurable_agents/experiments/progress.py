"""An experiment's progress: cells finished of the total, overall and per variant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from configurable_agents.storage.models import Experiment
from configurable_agents.storage.repositories import experiments


@dataclass(frozen=True)
class VariantProgress:
    """Cells of one variant: finished (scored or failed or cancelled) of the total."""

    name: str
    done: int
    failed: int
    total: int


@dataclass(frozen=True)
class ExperimentProgress:
    """Cells done of the total, overall and per variant."""

    experiment_id: int
    status: str
    done: int
    failed: int
    total: int
    variants: list[VariantProgress]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "status": self.status,
            "done": self.done,
            "failed": self.failed,
            "total": self.total,
            "variants": [vars(variant) for variant in self.variants],
        }


def progress(
    session: Session, experiment_ids: list[int] | None = None
) -> dict[int, ExperimentProgress]:
    """The progress of the given experiments (every running one when None): two small
    grouped reads, cheap enough for the status tick."""
    query = session.query(Experiment)
    query = (
        query.filter(Experiment.id.in_(experiment_ids))
        if experiment_ids is not None
        else query.filter(Experiment.status == "running")
    )
    found = query.all()
    counts = experiments.cell_counts(session, [experiment.id for experiment in found])
    result = {}
    for experiment in found:
        total_per_variant = len(experiment.dataset) * experiment.repeats
        lines = []
        for variant in experiment.variants:
            states = counts.get(experiment.id, {}).get(variant.id, {})
            failed = states.get(experiments.FAILED, 0) + states.get(experiments.CANCELLED, 0)
            done = states.get(experiments.SCORED, 0) + failed
            lines.append(VariantProgress(variant.name, done, failed, total_per_variant))
        result[experiment.id] = ExperimentProgress(
            experiment.id,
            experiment.status,
            sum(line.done for line in lines),
            sum(line.failed for line in lines),
            total_per_variant * len(lines),
            lines,
        )
    return result
