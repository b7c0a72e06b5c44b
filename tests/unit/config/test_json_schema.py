"""The exported JSON Schema is valid draft 2020-12 and agrees with the loader on documents."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from configurable_agents.config import NODE_KINDS, workflow_json_schema
from configurable_agents.config.schema import TOOL_NODE_NAMES
from configurable_agents.release import example_files
from tests.unit.config.samples import BASE, FLOW, LOOP, PARALLEL, TOOLS, variant


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = workflow_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _consts(schema: object, key: str) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        prop = schema.get("properties", {}).get(key)
        if isinstance(prop, dict) and "const" in prop:
            found.add(prop["const"])
        for value in schema.values():
            found |= _consts(value, key)
    elif isinstance(schema, list):
        for value in schema:
            found |= _consts(value, key)
    return found


def test_schema_is_json_with_dialect_and_every_node_kind_and_tool() -> None:
    schema = workflow_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert _consts(schema, "kind") == set(NODE_KINDS)
    assert _consts(schema, "tool") == set(TOOL_NODE_NAMES)
    assert set(schema["required"]) >= {"schema_version", "name", "nodes", "edges"}


def test_each_call_returns_a_copy() -> None:
    first = workflow_json_schema()
    first["title"] = "changed"
    assert workflow_json_schema()["title"] != "changed"


@pytest.mark.parametrize("text", [BASE, FLOW, LOOP, PARALLEL, TOOLS])
def test_valid_documents_pass(validator: jsonschema.Draft202012Validator, text: str) -> None:
    assert list(validator.iter_errors(yaml.safe_load(text))) == []


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.name)
def test_examples_pass(validator: jsonschema.Draft202012Validator, path) -> None:
    assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (variant(BASE, ("kind: llm", "kind: teleport")), ["nodes", 0]),
        (variant(BASE, ("    output: summary", "    output: summary\n    promt: x")), ["nodes", 0]),
        (variant(BASE, ("schema_version: 1", "schema_version: 2")), ["schema_version"]),
        (variant(BASE, ("name: demo", "name: Not A Slug")), ["name"]),
        (variant(TOOLS, ("tool: calculator", "tool: abacus")), ["nodes", 0]),
        (variant(LOOP, ("max_iterations: 3", "max_iterations: 0")), ["nodes", 2]),
        (
            variant(
                BASE,
                ("edges:\n  - {from: START, to: summarize}\n  - {from: summarize, to: END}\n", ""),
            ),
            [],
        ),
    ],
)
def test_invalid_documents_fail_where_expected(
    validator: jsonschema.Draft202012Validator, text: str, where: list
) -> None:
    errors = list(validator.iter_errors(yaml.safe_load(text)))
    assert errors
    assert any(list(error.absolute_path)[: len(where)] == where for error in errors)


def test_schema_converts_to_a_grammar_for_the_local_model() -> None:
    # The chat builder constrains the embedded model's decoding with this schema.
    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_json_schema(json.dumps(workflow_json_schema()), verbose=False)
    assert grammar is not None
