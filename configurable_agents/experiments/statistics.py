"""Every figure an experiment reports, computed here and nowhere else.

- A scorer's value for a row is the mean over that row's repeats (repeats are averaged
  within the row first, so k repeats do not pretend to be k times more rows).
- A variant's mean of a scorer is the mean over rows; its 95% interval is a percentile
  bootstrap over rows (``RESAMPLES`` resamples, seeded: the same experiment gives the
  same interval every time). With B resamples sorted ascending, the interval is
  ``[sorted[floor(0.025 B)], sorted[ceil(0.975 B) - 1]]``.
- Pass rate: the share of cells whose run completed and whose every score (pairwise
  aside) is at least 0.5.
- Latency: mean and p95 (nearest rank: the ceil(0.95 n)-th smallest) over cells.
- Cost: the total of the cells' runs, and per row = the mean cost of one cell (one run of
  one row). The judges' cost is reported apart.
- Paired comparison of a variant with the baseline over the rows both have: the per-row
  differences, their mean and bootstrap interval. "better" when the interval is above
  zero, "worse" when below, otherwise "no significant difference".
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean

RESAMPLES = 2000
CONFIDENCE = 0.95
PASS_THRESHOLD = 0.5
BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no significant difference"


@dataclass(frozen=True)
class CellFigures:
    """One finished cell as the statistics see it."""

    row: int
    repeat: int
    scores: Mapping[str, float | None]
    latency_ms: float = 0.0
    cost: float = 0.0
    judge_cost: float = 0.0
    completed: bool = True


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval (low == high == mean for a single value)."""

    mean: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class VariantStats:
    """A variant's figures over its finished cells."""

    name: str
    rows: int
    cells: int
    failed: int
    scorers: dict[str, Interval | None]
    pass_rate: float | None
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    cost_total: float
    cost_per_row: float | None
    judge_cost: float

    def figure(self, name: str) -> float | None:
        """A figure by the name gates use: a scorer's mean, pass_rate, cost_per_row,
        cost_total, latency_mean_ms, latency_p95_ms, judge_cost."""
        if name in self.scorers:
            interval = self.scorers[name]
            return interval.mean if interval else None
        if name in FIGURES:
            return getattr(self, name)
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "rows": self.rows,
            "cells": self.cells,
            "failed": self.failed,
            "scorers": {k: v.to_dict() if v else None for k, v in self.scorers.items()},
            "pass_rate": self.pass_rate,
            "latency_mean_ms": self.latency_mean_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "cost_total": self.cost_total,
            "cost_per_row": self.cost_per_row,
            "judge_cost": self.judge_cost,
        }


FIGURES = (
    "pass_rate",
    "cost_per_row",
    "cost_total",
    "latency_mean_ms",
    "latency_p95_ms",
    "judge_cost",
)


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline on one scorer, paired over the same rows."""

    scorer: str
    variant: str
    baseline: str
    rows: int
    diff: Interval | None
    verdict: str = NO_DIFFERENCE
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "scorer": self.scorer,
            "variant": self.variant,
            "baseline": self.baseline,
            "rows": self.rows,
            "diff": self.diff.to_dict() if self.diff else None,
            "verdict": self.verdict,
        }


def bootstrap_mean(
    values: Sequence[float], *, seed: int = 0, resamples: int = RESAMPLES
) -> Interval:
    """The mean of ``values`` with its percentile-bootstrap 95% interval (seeded)."""
    if not values:
        raise ValueError("no values to average")
    mean = fmean(values)
    if len(values) == 1 or min(values) == max(values):
        return Interval(mean, mean, mean)
    rng = random.Random(seed)
    size = len(values)
    means = sorted(fmean(rng.choices(values, k=size)) for _ in range(resamples))
    tail = (1 - CONFIDENCE) / 2
    low = means[math.floor(tail * resamples)]
    high = means[math.ceil((1 - tail) * resamples) - 1]
    return Interval(mean, low, high)


def row_means(cells: Iterable[CellFigures], scorer: str) -> dict[int, float]:
    """A scorer's value per row: the mean over the row's repeats that have a value."""
    by_row: dict[int, list[float]] = {}
    for cell in cells:
        value = cell.scores.get(scorer)
        if value is not None:
            by_row.setdefault(cell.row, []).append(float(value))
    return {row: fmean(values) for row, values in sorted(by_row.items())}


def p95(values: Sequence[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def passed(cell: CellFigures, pairwise: Iterable[str] = ()) -> bool:
    """Whether a cell passes: its run completed and every score is at least 0.5."""
    skip = set(pairwise)
    values = [v for k, v in cell.scores.items() if k not in skip and v is not None]
    return cell.completed and all(value >= PASS_THRESHOLD for value in values)


def variant_stats(
    name: str,
    cells: Sequence[CellFigures],
    scorers: Sequence[str],
    *,
    seed: int = 0,
    pairwise: Sequence[str] = (),
) -> VariantStats:
    """Every figure of one variant."""
    intervals: dict[str, Interval | None] = {}
    for scorer in scorers:
        means = list(row_means(cells, scorer).values())
        intervals[scorer] = bootstrap_mean(means, seed=seed) if means else None
    latencies = [cell.latency_ms for cell in cells if cell.completed]
    costs = [cell.cost for cell in cells]
    return VariantStats(
        name=name,
        rows=len({cell.row for cell in cells}),
        cells=len(cells),
        failed=sum(not cell.completed for cell in cells),
        scorers=intervals,
        pass_rate=fmean(passed(cell, pairwise) for cell in cells) if cells else None,
        latency_mean_ms=fmean(latencies) if latencies else None,
        latency_p95_ms=p95(latencies) if latencies else None,
        cost_total=sum(costs),
        cost_per_row=fmean(costs) if costs else None,
        judge_cost=sum(cell.judge_cost for cell in cells),
    )


def compare(
    variant: str,
    variant_cells: Sequence[CellFigures],
    baseline: str,
    baseline_cells: Sequence[CellFigures],
    scorer: str,
    *,
    seed: int = 0,
) -> Comparison:
    """The paired comparison of ``variant`` with ``baseline`` on one scorer."""
    ours, theirs = row_means(variant_cells, scorer), row_means(baseline_cells, scorer)
    shared = sorted(set(ours) & set(theirs))
    if not shared:
        return Comparison(scorer, variant, baseline, 0, None)
    diffs = [ours[row] - theirs[row] for row in shared]
    interval = bootstrap_mean(diffs, seed=seed)
    verdict = NO_DIFFERENCE
    if interval.low > 0:
        verdict = BETTER
    elif interval.high < 0:
        verdict = WORSE
    return Comparison(scorer, variant, baseline, len(shared), interval, verdict)
