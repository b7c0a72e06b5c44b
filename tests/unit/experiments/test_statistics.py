"""The figures against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from configurable_agents.experiments.statistics import (
    BETTER,
    NO_DIFFERENCE,
    WORSE,
    CellFigures,
    bootstrap_mean,
    compare,
    p95,
    row_means,
    variant_stats,
)


def cell(row: int, repeat: int, value: float | None, **kw: object) -> CellFigures:
    return CellFigures(row=row, repeat=repeat, scores={"s": value}, **kw)  # type: ignore[arg-type]


def test_repeats_are_averaged_within_a_row_first() -> None:
    # Row 0: 1 and 0 -> 0.5; row 1: 1 and 1 -> 1.0; row 2: only one value -> 0.0.
    cells = [
        cell(0, 0, 1),
        cell(0, 1, 0),
        cell(1, 0, 1),
        cell(1, 1, 1),
        cell(2, 0, 0),
        cell(2, 1, None),
    ]
    assert row_means(cells, "s") == {0: 0.5, 1: 1.0, 2: 0.0}
    stats = variant_stats("v", cells, ["s"])
    # Mean over rows (0.5 + 1 + 0) / 3, not over the five cell values (3/5).
    assert stats.scorers["s"].mean == pytest.approx(0.5)


def test_identical_values_have_a_zero_width_interval() -> None:
    interval = bootstrap_mean([0.75] * 20)
    assert (interval.mean, interval.low, interval.high) == (0.75, 0.75, 0.75)


def test_two_values_bootstrap_interval_spans_both() -> None:
    # Resampling [0, 1] twice gives means 0 (1/4), 0.5 (1/2), 1 (1/4): with 2000 resamples
    # the 50th smallest is 0 and the 1950th is 1 (P(fewer than 50 zeros) is ~1e-300).
    interval = bootstrap_mean([0.0, 1.0], seed=3)
    assert (interval.mean, interval.low, interval.high) == (0.5, 0.0, 1.0)


def test_bootstrap_is_seeded() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.9, 0.05, 0.6]
    assert bootstrap_mean(values, seed=5) == bootstrap_mean(values, seed=5)
    interval = bootstrap_mean(values, seed=5)
    assert min(values) <= interval.low < interval.mean < interval.high <= max(values)


def test_p95_is_the_nearest_rank() -> None:
    # 20 values 1..20: ceil(0.95 * 20) = 19 -> the 19th smallest.
    assert p95([float(v) for v in range(20, 0, -1)]) == 19.0
    # 10 values: ceil(9.5) = 10 -> the largest.
    assert p95([float(v) for v in range(1, 11)]) == 10.0
    assert p95([7.0]) == 7.0


def test_pass_rate_latency_and_cost() -> None:
    cells = [
        CellFigures(0, 0, {"a": 1.0, "b": 0.5}, latency_ms=100, cost=0.01),
        CellFigures(0, 1, {"a": 1.0, "b": 0.4}, latency_ms=300, cost=0.03),
        CellFigures(1, 0, {"a": None, "b": 1.0}, latency_ms=200, cost=0.02),
        CellFigures(1, 1, {"a": 1.0, "b": 1.0}, latency_ms=0, cost=0.0, completed=False),
    ]
    stats = variant_stats("v", cells, ["a", "b"])
    # Passing: cell 0 (1, 0.5), cell 2 (None skipped, 1); cell 1 has 0.4; cell 3 failed.
    assert stats.pass_rate == 0.5
    # Latency over completed cells only: 100, 300, 200.
    assert stats.latency_mean_ms == pytest.approx(200.0)
    assert stats.latency_p95_ms == 300.0
    assert stats.cost_total == pytest.approx(0.06)
    assert stats.cost_per_row == pytest.approx(0.015)
    assert (stats.rows, stats.cells, stats.failed) == (2, 4, 1)


def test_paired_comparison_verdicts() -> None:
    base = [cell(row, 0, 0.0) for row in range(10)]
    winner = [cell(row, 0, 1.0) for row in range(10)]
    same = [cell(row, 0, 0.0) for row in range(10)]
    better = compare("w", winner, "b", base, "s")
    assert better.verdict == BETTER
    assert (better.diff.mean, better.diff.low, better.diff.high) == (1.0, 1.0, 1.0)
    assert compare("b", base, "w", winner, "s").verdict == WORSE
    tie = compare("t", same, "b", base, "s")
    assert tie.verdict == NO_DIFFERENCE and tie.diff.low == tie.diff.high == 0.0


def test_a_mixed_difference_is_no_significant_difference() -> None:
    # Differences [+1, 0]: the bootstrap interval is [0, 1], which holds zero.
    base = [cell(0, 0, 0.0), cell(1, 0, 1.0)]
    other = [cell(0, 0, 1.0), cell(1, 0, 1.0)]
    result = compare("o", other, "b", base, "s", seed=1)
    assert result.diff.mean == 0.5 and (result.diff.low, result.diff.high) == (0.0, 1.0)
    assert result.verdict == NO_DIFFERENCE


def test_only_shared_rows_are_compared() -> None:
    base = [cell(0, 0, 0.0), cell(1, 0, 0.0)]
    other = [cell(1, 0, 1.0), cell(2, 0, 1.0)]
    result = compare("o", other, "b", base, "s")
    assert result.rows == 1 and result.diff.mean == 1.0
    assert math.isclose(result.diff.low, 1.0)
