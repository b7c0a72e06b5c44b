"""Run inputs: which fields a form asks for, and turning given values into typed state."""

from __future__ import annotations

import pytest

from configurable_agents.config import (
    InvalidInputsError,
    coerce_inputs,
    initial_state,
    input_fields,
    load_config,
)

CONFIG = """\
schema_version: 1
name: inputs
state:
  tone: {type: enum, values: [formal, casual], default: casual, description: How to write}
  topic: {type: str, required: true, description: What to write about}
  words: {type: int, default: 50}
  ratio: {type: float}
  strict: {type: bool}
  tags: {type: "list[str]"}
  meta: {type: object, fields: {author: {type: str}, year: {type: int}}}
  draft: {type: str}
nodes:
  - id: write
    kind: llm
    prompt: "{topic} {tone} {words} {ratio} {strict} {tags} {meta.author}"
    output: draft
edges:
  - {from: START, to: write}
  - {from: write, to: END}
"""


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG)


def test_inputs_are_fields_no_node_writes_required_first(config) -> None:
    fields = input_fields(config)
    assert [f.name for f in fields] == ["topic", "tone", "words", "ratio", "strict", "tags", "meta"]
    topic, tone = fields[0], fields[1]
    assert (topic.type, topic.required, topic.description) == ("str", True, "What to write about")
    assert (tone.values, tone.default) == (["formal", "casual"], "casual")
    assert tone.json_schema == {
        "type": "string",
        "enum": ["formal", "casual"],
        "description": "How to write",
    }
    assert fields[-1].json_schema["required"] == ["author", "year"]


def test_text_from_forms_and_the_cli_becomes_typed(config) -> None:
    values = coerce_inputs(
        config,
        {
            "topic": "owls",
            "words": "120",
            "ratio": "0.5",
            "strict": "yes",
            "tags": '["a", "b"]',
            "meta": '{"author": "Ann", "year": 2024}',
        },
    )
    assert values == {
        "topic": "owls",
        "tone": "casual",
        "words": 120,
        "ratio": 0.5,
        "strict": True,
        "tags": ["a", "b"],
        "meta": {"author": "Ann", "year": 2024},
    }


def test_every_wrong_input_is_named(config) -> None:
    with pytest.raises(InvalidInputsError) as caught:
        coerce_inputs(
            config,
            {
                "words": "many",
                "tone": "angry",
                "tpic": "x",
                "meta": '{"author": "Ann"}',
                "tags": "[1]",
            },
        )
    assert caught.value.problems == [
        "unknown input 'tpic' (did you mean 'topic'?); inputs: tone, topic, words, ratio, strict, tags, meta",
        "input 'tone': expected one of formal, casual, got \"angry\"",
        "missing required input 'topic' (str)",
        "input 'words': expected an integer, got \"many\"",
        "input 'tags': expected text (str) at [0], got 1",
        "input 'meta': missing key 'year'",
    ]


def test_initial_state_has_every_field(config) -> None:
    state = initial_state(config, {"topic": "owls"})
    assert state == {
        "tone": "casual",
        "topic": "owls",
        "words": 50,
        "ratio": None,
        "strict": None,
        "tags": None,
        "meta": None,
        "draft": None,
    }


def test_written_fields_are_not_inputs(config) -> None:
    with pytest.raises(InvalidInputsError, match="unknown input 'draft'"):
        coerce_inputs(config, {"topic": "owls", "draft": "x"})
