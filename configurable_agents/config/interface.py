"""A workflow seen from outside, as a tool or a model: its typed inputs as a JSON Schema, and
its outputs (the fields written by the nodes that lead to END, else every written field).

The OpenAI-compatible /v1, the MCP server (/mcp and `mcp serve`) and workflows offered as
tools to a model all describe a workflow with these, so the three agree.
"""

from __future__ import annotations

from typing import Any

from configurable_agents.config.inputs import input_fields, input_names, written_fields
from configurable_agents.config.names import END
from configurable_agents.config.schema import WorkflowConfig


def input_schema(config: WorkflowConfig) -> dict[str, Any]:
    """The JSON Schema of a run's inputs: one property per typed input, required ones
    listed as required."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in input_fields(config):
        schema = dict(field.json_schema)
        if field.description and "description" not in schema:
            schema["description"] = field.description
        if field.default is not None:
            schema["default"] = field.default
        properties[field.name] = schema
        if field.required:
            required.append(field.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def output_names(config: WorkflowConfig) -> list[str]:
    """The fields a run answers with: written by the nodes leading to END (else by any node),
    inputs excluded, in declaration order."""
    inputs = set(input_names(config.state, config.nodes))
    last = {edge.from_ for edge in config.edges if edge.to == END}
    final_nodes = [node for node in config.nodes if node.id in last]
    for nodes in (final_nodes, config.nodes):
        written = written_fields(nodes)
        names = [name for name in config.state if name in written and name not in inputs]
        if names:
            return names
    return []


def output_schema(config: WorkflowConfig) -> dict[str, Any]:
    """The JSON Schema of a run's outputs (an object keyed by output name). A field a run
    did not reach stays null, so each output may also be null."""
    names = output_names(config)
    return {
        "type": "object",
        "properties": {
            name: {"anyOf": [config.state[name].json_schema(), {"type": "null"}]} for name in names
        },
    }
