"""An experiment's report: every variant's statistics, each compared with the baseline on
every scorer, and the gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from configurable_agents.experiments import gates as gate_rules
from configurable_agents.experiments.definition import Definition
from configurable_agents.experiments.statistics import (
    CellFigures,
    Comparison,
    VariantStats,
    compare,
    variant_stats,
)
from configurable_agents.storage.models import Experiment
from configurable_agents.storage.repositories import experiments


@dataclass
class ExperimentReport:
    """Everything the comparison table shows."""

    experiment_id: int
    name: str
    status: str
    workflow_id: int | None
    baseline: str
    repeats: int
    rows: int
    scorers: list[str]
    variants: list[VariantStats]
    comparisons: list[Comparison]
    judge_cost: float
    gates: list[gate_rules.GateResult] = field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def gates_passed(self) -> bool:
        return all(result.passed for result in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.experiment_id,
            "name": self.name,
            "status": self.status,
            "workflow_id": self.workflow_id,
            "baseline": self.baseline,
            "repeats": self.repeats,
            "rows": self.rows,
            "scorers": self.scorers,
            "variants": [stats.to_dict() for stats in self.variants],
            "comparisons": [comparison.to_dict() for comparison in self.comparisons],
            "judge_cost": self.judge_cost,
            "gates": [result.to_dict() for result in self.gates],
            "gates_passed": self.gates_passed,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def cell_figures(session: Session, experiment: Experiment) -> dict[str, list[CellFigures]]:
    """The finished cells of each variant (by name, in variant order)."""
    names = {variant.id: variant.name for variant in experiment.variants}
    by_variant: dict[str, list[CellFigures]] = {name: [] for name in names.values()}
    for cell in experiments.cells(session, experiment.id):
        if cell.state == experiments.PENDING or cell.state == experiments.CANCELLED:
            continue
        by_variant[names[cell.variant_id]].append(
            CellFigures(
                row=cell.item_index,
                repeat=cell.repeat,
                scores=cell.scores,
                latency_ms=cell.latency_ms,
                cost=cell.cost,
                judge_cost=cell.judge_cost,
                completed=cell.state == experiments.SCORED,
            )
        )
    return by_variant


def report(
    session: Session, experiment_id: int, *, extra_gates: list[str] | None = None
) -> ExperimentReport:
    """The statistics of every variant, each variant compared with the baseline on every
    scorer, and the gates (the definition's plus ``extra_gates``; GateError when malformed)."""
    experiment = experiments.get(session, experiment_id)
    definition = Definition.model_validate(experiment.definition) if experiment.definition else None
    scorers = [spec.label for spec in definition.scorers] if definition else []
    pairwise = (
        [spec.label for spec in definition.scorers if spec.kind == "pairwise"] if definition else []
    )
    seed = definition.seed if definition else 0
    figures = cell_figures(session, experiment)
    stats = [
        variant_stats(name, cells, scorers, seed=seed, pairwise=pairwise)
        for name, cells in figures.items()
    ]
    baseline = experiment.baseline or (experiment.variants[0].name if experiment.variants else "")
    comparisons = [
        compare(name, cells, baseline, figures.get(baseline, []), scorer, seed=seed)
        for name, cells in figures.items()
        if name != baseline
        for scorer in scorers
    ]
    parsed = gate_rules.parse_gates(
        [*(definition.gates if definition else []), *(extra_gates or [])]
    )
    gate_rules.check_known(parsed, scorers, list(figures))
    return ExperimentReport(
        experiment_id=experiment.id,
        name=experiment.name,
        status=experiment.status,
        workflow_id=experiment.workflow_id,
        baseline=baseline,
        repeats=experiment.repeats,
        rows=len(experiment.dataset),
        scorers=scorers,
        variants=stats,
        comparisons=comparisons,
        judge_cost=experiment.judge_cost,
        gates=gate_rules.evaluate(parsed, stats),
        created_at=experiment.created_at,
        finished_at=experiment.finished_at,
    )
