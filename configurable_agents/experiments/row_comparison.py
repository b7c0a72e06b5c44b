"""Two variants of an experiment side by side, dataset row by dataset row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from configurable_agents.storage.models import Run
from configurable_agents.storage.repositories import experiments


@dataclass(frozen=True)
class CellView:
    """One cell as the per-row view shows it."""

    repeat: int
    run_id: str | None
    state: str
    outputs: dict[str, Any] | None
    scores: dict[str, Any]
    latency_ms: float
    cost: float


@dataclass(frozen=True)
class RowPair:
    """One dataset row with the cells of two variants side by side."""

    row: int
    inputs: dict[str, Any]
    expected: dict[str, Any]
    a: list[CellView]
    b: list[CellView]


def row_outputs(
    session: Session, experiment_id: int, variant_a: str, variant_b: str
) -> list[RowPair]:
    """Each row's inputs, expected values and the two variants' cells (VariantNotFoundError
    for an unknown variant)."""
    experiment = experiments.get(session, experiment_id)
    ids: dict[int, list[str]] = {}
    ids.setdefault(experiments.variant(session, experiment, variant_a).id, []).append("a")
    ids.setdefault(experiments.variant(session, experiment, variant_b).id, []).append("b")
    cells = experiments.cells(session, experiment_id)
    run_ids = [cell.run_id for cell in cells if cell.run_id and cell.variant_id in ids]
    outputs = (
        {run.id: run.outputs for run in session.query(Run).filter(Run.id.in_(run_ids))}
        if run_ids
        else {}
    )
    sides: dict[tuple[int, str], list[CellView]] = {}
    for cell in cells:
        for side in ids.get(cell.variant_id, []):
            sides.setdefault((cell.item_index, side), []).append(
                CellView(
                    cell.repeat,
                    cell.run_id,
                    cell.state,
                    outputs.get(cell.run_id or ""),
                    dict(cell.scores),
                    cell.latency_ms,
                    cell.cost,
                )
            )
    return [
        RowPair(
            index,
            dict(row.get("inputs", {})),
            dict(row.get("expected", {})),
            sides.get((index, "a"), []),
            sides.get((index, "b"), []),
        )
        for index, row in enumerate(experiment.dataset)
    ]
