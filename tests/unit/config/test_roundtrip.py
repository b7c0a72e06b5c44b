"""config_to_yaml writes YAML that loads back to an equal config, whatever the strings hold."""

from __future__ import annotations

import pytest

from configurable_agents.config import config_to_yaml, load_config

RICH = """\
schema_version: 1
name: rich
description: "Every part of the language, with awkward strings: yes, no, 1.0, null, {x}"
state:
  topic: {type: str, required: true, description: "yes"}
  when: {type: str, default: "2024-01-01"}
  count: {type: int, default: 3}
  ratio: {type: float, default: 1}
  flag: {type: bool, default: false}
  tone: {type: enum, values: ["on", "off", "null"], default: "on"}
  tags: {type: "list[str]", default: ["a: b", "- c", "#d"]}
  scores: {type: "dict[int]"}
  article:
    type: object
    fields:
      title: {type: str}
      words: {type: "list[dict[str, float]]"}
  items: {type: "list[object]", fields: {id: {type: int}}}
  total: {type: float}
  draft: {type: str}
  text: {type: str}
  approved_note: {type: str}
  extracted: {type: "list[int]"}
  stamp: {type: str}
  saved: {type: str}
  remote: {type: str}
  last: {type: str}
memory:
  namespace: rich-memory
  keys:
    last: {type: str, default: ""}
llm:
  provider: openai
  model: gpt-test
  temperature: 0.25
  max_tokens: 100
  timeout: 12.5
  base_url: http://127.0.0.1:9/v1
  api_key_env: TEST_API_KEY
pricing:
  gpt-test: {input: 0.15, output: 0.6}
nodes:
  - id: write
    kind: llm
    system: "Literal braces {{like this}} and a colon: here"
    prompt: |
      Line one about {topic}.
        Indented line with trailing text: {tone}
      Unicode: café — 東京 {{x}}
    output: draft
    llm: {provider: local, temperature: 0}
    memory:
      read: [last]
      write: [{key: last, field: draft}]
  - id: split
    kind: parallel
    branches: [calc, clock]
    join: gate
  - id: calc
    kind: tool
    tool: calculator
    args: {expression: "round(count * ratio / 3, 2)"}
    output: total
  - id: clock
    kind: tool
    tool: current_time
    args: {timezone: Europe/Paris, format: "%H:%M"}
    output: stamp
  - id: gate
    kind: router
    routes:
      - when: {field: tone, op: in, value: ["on", "null"]}
        to: fetch
      - when: {field: article.title, op: empty}
        to: ask
    default: ask
  - id: fetch
    kind: tool
    tool: http_request
    args:
      url: "https://example.test/items/{count}?q={topic}"
      method: POST
      headers: {Accept: application/json}
      secret_headers: {Authorization: EXAMPLE_TOKEN}
      body: '{{"topic": "{topic}"}}'
      timeout: 3
      max_bytes: 1000
    output: text
  - id: pick
    kind: tool
    tool: json_path
    args: {source: text, path: "$.items[*].id"}
    output: extracted
  - id: ask
    kind: approval
    message: "OK?\\n{draft}"
    on_reject: again
    feedback: approved_note
  - id: again
    kind: loop
    body: write
    while: {field: flag, op: eq, value: false}
    max_iterations: 2
    exit: save
  - id: save
    kind: tool
    tool: file_write
    args: {path: "out/{topic}.md", content: "{draft}", mode: append}
    output: saved
  - id: remote
    kind: agent
    agent: remote-summarizer
    inputs: {text: "{draft}", count: "{count}"}
    output: remote
    timeout: 5
edges:
  - {from: START, to: write}
  - {from: write, to: split}
  - {from: calc, to: gate}
  - {from: clock, to: gate}
  - {from: fetch, to: pick}
  - {from: pick, to: ask}
  - {from: ask, to: again}
  - {from: save, to: remote}
  - {from: remote, to: END}
schedules:
  - {cron: "*/15 * * * 1-5", timezone: Europe/Paris, inputs: {topic: "yes"}, description: "no"}
"""


def test_rich_config_is_valid() -> None:
    config = load_config(RICH)
    assert config.state["scores"].type == "dict[str, int]"
    assert config.state["ratio"].default == 1.0
    assert config.state["when"].default == "2024-01-01"
    assert config.nodes[0].memory.read[0].model_dump() == {"key": "last", "field": "last"}


def test_rich_config_round_trips() -> None:
    config = load_config(RICH)
    text = config_to_yaml(config)
    assert load_config(text) == config
    # Twice gives the same text: the output is stable.
    assert config_to_yaml(load_config(text)) == text


def test_defaults_are_left_out_and_literal_blocks_kept() -> None:
    text = config_to_yaml(load_config(RICH))
    assert "mode: overwrite" not in text
    assert "prompt: |" in text
    assert "  - {from: START, to: write}" in text


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "no",
        "on",
        "1.0",
        "null",
        "~",
        "2024-01-01",
        "{x}",
        "- a",
        "a: b",
        "#c",
        " pad ",
        "",
        "'q'",
        '"d"',
        "\\n",
    ],
)
def test_awkward_strings_survive(value: str) -> None:
    config = load_config(
        "schema_version: 1\nname: s\nstate:\n  t: {type: str}\nnodes:\n"
        "  - {id: a, kind: llm, prompt: hi, output: t}\n"
        "edges:\n  - {from: START, to: a}\n  - {from: a, to: END}\n"
    )
    changed = config.model_copy(update={"description": value})
    assert load_config(config_to_yaml(changed)) == changed
