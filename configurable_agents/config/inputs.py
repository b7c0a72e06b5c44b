"""The typed inputs a run takes (for forms, the CLI and schedules), and checking given values.

A state field is an input when it is required, has a default, or no node writes it (so
only the run's inputs can set it).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.config.schema import AnyNode, StateField, WorkflowConfig


@dataclass(frozen=True)
class InputField:
    """One input of a workflow, with what a form needs to ask for it."""

    name: str
    type: str
    required: bool
    default: Any
    description: str
    values: list[str] | None
    json_schema: dict[str, Any]


def written_fields(nodes: Iterable[AnyNode]) -> set[str]:
    """The state fields some node writes."""
    return {use.field for node in nodes for use in node.writes()}


def input_names(state: Mapping[str, StateField], nodes: Iterable[AnyNode]) -> list[str]:
    """The names of the state fields a run's inputs may set, in declaration order."""
    written = written_fields(nodes)
    return [
        name
        for name, spec in state.items()
        if spec.required or spec.default is not None or name not in written
    ]


def input_fields(config: WorkflowConfig) -> list[InputField]:
    """The typed inputs a run of this workflow takes, required ones first."""
    fields = []
    for name in input_names(config.state, config.nodes):
        spec = config.state[name]
        fields.append(
            InputField(
                name=name,
                type=spec.type,
                required=spec.required,
                default=spec.default,
                description=spec.description,
                values=spec.values,
                json_schema=spec.json_schema(),
            )
        )
    return sorted(fields, key=lambda field: not field.required)


def input_problems(
    config: WorkflowConfig, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The inputs as their declared types (text is parsed) with defaults filled in, and
    one message per problem (unknown, missing or ill-typed input)."""
    names = input_names(config.state, config.nodes)
    problems = []
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(names) or "none"
            problems.append(f"unknown input '{key}'{hint}; inputs: {known}")
    result: dict[str, Any] = {}
    for name in names:
        spec = config.state[name]
        if name in values:
            try:
                result[name] = spec.coerce(values[name])
            except ValueError as error:
                problems.append(f"input '{name}': {error}")
        elif spec.required:
            problems.append(f"missing required input '{name}' ({spec.type})")
        elif spec.default is not None:
            result[name] = copy.deepcopy(spec.default)
    return result, problems


def coerce_inputs(config: WorkflowConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as their declared types with defaults filled in; raises InvalidInputsError."""
    result, problems = input_problems(config, values)
    if problems:
        raise InvalidInputsError(problems)
    return result


def initial_state(config: WorkflowConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every state field at the start of a run: inputs, else the default, else None."""
    state = {name: copy.deepcopy(spec.default) for name, spec in config.state.items()}
    state.update(coerce_inputs(config, values))
    return state
