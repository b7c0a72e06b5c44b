"""Scorers: each turns one cell (a row, the run's outputs, its step records) into a value
in [0, 1], or None when it cannot judge (no expected value, the run failed ...).

Built in: exact, contains, regex, json_schema, numeric (tolerance), length (bounds), latency
and cost (budgets). The LLM judges are in :mod:`configurable_agents.experiments.judges`.
Custom scorers are functions ``(row, outputs, steps) -> float | bool | None`` registered in
the ``configurable_agents.scorers`` entry point group (or named ``module:function``).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from configurable_agents.experiments.definition import ScorerSpec

ENTRY_POINT_GROUP = "configurable_agents.scorers"
# The judges score once per cell (llm_judge) or once per row pair (pairwise) elsewhere.
JUDGE_KINDS = ("llm_judge", "pairwise")

CustomScorer = Callable[
    [Mapping[str, Any], Mapping[str, Any] | None, Sequence[Mapping[str, Any]]], Any
]


@dataclass(frozen=True)
class Cell:
    """What a scorer sees of one cell."""

    row: Mapping[str, Any]
    outputs: Mapping[str, Any] | None
    steps: Sequence[Mapping[str, Any]] = ()
    latency_ms: float = 0.0
    cost: float = 0.0
    completed: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class ScorerLookupError(LookupError):
    """A custom scorer's name is not registered (or its module:function does not import)."""


def output_value(spec: ScorerSpec, cell: Cell, default_field: str | None) -> Any:
    """The output the scorer judges: its ``field``, else the workflow's last written field."""
    if cell.outputs is None:
        return None
    name = spec.field or default_field
    return cell.outputs.get(name) if name else None


def expected_value(spec: ScorerSpec, cell: Cell, default_field: str | None) -> Any:
    """The row's expected value for the scorer (``expected`` column, else its field's)."""
    expected = cell.row.get("expected") or {}
    for key in (spec.expected, spec.field or default_field, "expected"):
        if key and key in expected:
            return expected[key]
    return None


def score(spec: ScorerSpec, cell: Cell, default_field: str | None) -> float | None:
    """The value of one deterministic (or custom) scorer on one cell."""
    if spec.kind == "latency":
        return float(cell.completed and cell.latency_ms <= float(spec.max_ms or 0))
    if spec.kind == "cost":
        return float(cell.completed and cell.cost <= float(spec.max_usd or 0))
    if spec.kind == "custom":
        value = custom_scorer(str(spec.entry))(dict(cell.row), cell.outputs, list(cell.steps))
        return None if value is None else _unit(float(value))
    if not cell.completed:
        # A failed run scores zero on what it should have produced.
        return 0.0
    output = output_value(spec, cell, default_field)
    if spec.kind == "exact":
        expected = expected_value(spec, cell, default_field)
        return None if expected is None else float(_text(output).strip() == _text(expected).strip())
    if spec.kind == "contains":
        needle = spec.value if spec.value is not None else expected_value(spec, cell, default_field)
        if needle is None:
            return None
        haystack, needle = _text(output), _text(needle)
        if not spec.case_sensitive:
            haystack, needle = haystack.lower(), needle.lower()
        return float(needle in haystack)
    if spec.kind == "regex":
        return float(re.search(str(spec.pattern), _text(output)) is not None)
    if spec.kind == "json_schema":
        return float(_schema_valid(output, spec.schema_ or {}))
    if spec.kind == "numeric":
        expected = expected_value(spec, cell, default_field)
        if expected is None:
            return None
        try:
            return float(abs(float(output) - float(expected)) <= spec.tolerance)
        except (TypeError, ValueError):
            return 0.0
    if spec.kind == "length":
        size = len(_text(output))
        low, high = spec.min or 0, spec.max if spec.max is not None else size
        return float(low <= size <= high)
    raise ValueError(f"{spec.kind} is not scored per cell here")


def check_spec(spec: ScorerSpec) -> str | None:
    """Why a scorer cannot be used (a bad regex, an unknown custom name), else None."""
    if spec.kind == "regex":
        try:
            re.compile(str(spec.pattern))
        except re.error as error:
            return f"pattern is not a regular expression: {error}"
    if spec.kind == "json_schema":
        from jsonschema import exceptions, validators

        try:
            validators.validator_for(spec.schema_ or {}).check_schema(spec.schema_ or {})
        except exceptions.SchemaError as error:
            return f"schema is not a valid JSON Schema: {error.message}"
    if spec.kind == "custom":
        try:
            custom_scorer(str(spec.entry))
        except ScorerLookupError as error:
            return str(error)
    return None


def registered_scorers() -> list[str]:
    """The names in the ``configurable_agents.scorers`` entry point group."""
    return sorted(point.name for point in entry_points(group=ENTRY_POINT_GROUP))


@cache
def custom_scorer(entry: str) -> CustomScorer:
    """The function of a custom scorer: an entry point name, or ``module:function``."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == entry:
            return point.load()
    module, sep, name = entry.partition(":")
    if not sep:
        known = ", ".join(registered_scorers()) or "none registered"
        raise ScorerLookupError(
            f"no scorer {entry!r} in the {ENTRY_POINT_GROUP} entry point group ({known}); "
            "or name one as module:function"
        )
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ScorerLookupError(f"cannot load scorer {entry!r}: {error}") from None
    if not callable(function):
        raise ScorerLookupError(f"scorer {entry!r} is not a function")
    return function


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def _schema_valid(value: Any, schema: Mapping[str, Any]) -> bool:
    from jsonschema import validators

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return False
    validator = validators.validator_for(schema)(schema)
    return validator.is_valid(value)
