"""The JSON Schema of a workflow config, for the dashboard's editor and constrained decoding."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from configurable_agents.config.schema import WorkflowConfig

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _drop_nested_discriminators(schema: Any) -> None:
    # Pydantic writes the nested tool union as an object inside the outer discriminator
    # mapping; OpenAPI-style mappings must be references, so keep only plain oneOf there.
    if isinstance(schema, dict):
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, dict):
            mapping = discriminator.get("mapping", {})
            if any(not isinstance(target, str) for target in mapping.values()):
                del schema["discriminator"]
        for value in schema.values():
            _drop_nested_discriminators(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_nested_discriminators(value)


@cache
def _schema() -> dict[str, Any]:
    schema = WorkflowConfig.model_json_schema(by_alias=True, mode="validation")
    _drop_nested_discriminators(schema)
    return {"$schema": DIALECT, **schema, "title": "Workflow config"}


def workflow_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of WorkflowConfig; a fresh copy each call."""
    return copy.deepcopy(_schema())


def _drop_upper_bounds(schema: Any) -> None:
    if isinstance(schema, dict):
        schema.pop("maxItems", None)
        schema.pop("maxLength", None)
        for value in schema.values():
            _drop_upper_bounds(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_upper_bounds(value)


def workflow_decoding_schema() -> dict[str, Any]:
    """The workflow schema for constrained decoding, without the upper bounds that grammar
    engines expand into one nested optional per item or character (array and string
    lengths): llama.cpp's server refuses such a grammar as too
    complex. Validation still enforces every bound."""
    schema = workflow_json_schema()
    _drop_upper_bounds(schema)
    return schema
