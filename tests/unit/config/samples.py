"""Helpers for the workflow-language tests: small valid configs to break one line at a time."""

from __future__ import annotations

import pytest

from configurable_agents.config import ConfigError, ConfigIssue, load_config

# Line numbers in the tests refer to these texts (each line is counted from 1).
BASE = """\
schema_version: 1
name: demo
state:
  text: {type: str, required: true}
  summary: {type: str}
nodes:
  - id: summarize
    kind: llm
    prompt: "Sum: {text}"
    output: summary
edges:
  - {from: START, to: summarize}
  - {from: summarize, to: END}
"""

FLOW = """\
schema_version: 1
name: flow
state:
  text: {type: str, required: true}
  score: {type: int}
  label: {type: enum, values: [good, bad]}
  summary: {type: str}
nodes:
  - id: rate
    kind: llm
    prompt: "Rate: {text}"
    outputs: [score, label]
  - id: check
    kind: router
    routes:
      - when: {field: score, op: gte, value: 7}
        to: summarize
    default: END
  - id: summarize
    kind: llm
    prompt: "Sum: {text}"
    output: summary
edges:
  - {from: START, to: rate}
  - {from: rate, to: check}
  - {from: summarize, to: END}
"""

LOOP = """\
schema_version: 1
name: loop
state:
  topic: {type: str, required: true}
  draft: {type: str}
  score: {type: int}
nodes:
  - id: write
    kind: llm
    prompt: "Write about {topic}"
    output: draft
  - id: review
    kind: llm
    prompt: "Score: {draft}"
    output: score
  - id: again
    kind: loop
    body: write
    while: {field: score, op: lt, value: 7}
    max_iterations: 3
    exit: END
edges:
  - {from: START, to: write}
  - {from: write, to: review}
  - {from: review, to: again}
"""

PARALLEL = """\
schema_version: 1
name: par
state:
  topic: {type: str, required: true}
  pros: {type: str}
  cons: {type: str}
  verdict: {type: str}
nodes:
  - id: split
    kind: parallel
    branches: [pros, cons]
    join: weigh
  - id: pros
    kind: llm
    prompt: "Pros of {topic}"
    output: pros
  - id: cons
    kind: llm
    prompt: "Cons of {topic}"
    output: cons
  - id: weigh
    kind: llm
    prompt: "{pros} vs {cons}"
    output: verdict
edges:
  - {from: START, to: split}
  - {from: pros, to: weigh}
  - {from: cons, to: weigh}
  - {from: weigh, to: END}
"""

TOOLS = """\
schema_version: 1
name: tools
state:
  price: {type: float, required: true}
  total: {type: float}
  saved: {type: str}
nodes:
  - id: calc
    kind: tool
    tool: calculator
    args: {expression: "price * 2"}
    output: total
  - id: save
    kind: tool
    tool: file_write
    args: {path: "out/total.txt", content: "{total}"}
    output: saved
edges:
  - {from: START, to: calc}
  - {from: calc, to: save}
  - {from: save, to: END}
"""


def variant(base: str, *replacements: tuple[str, str]) -> str:
    """``base`` with each (old, new) replaced once; ``old`` must be there."""
    text = base
    for old, new in replacements:
        assert old in text, f"{old!r} is not in the base config"
        text = text.replace(old, new, 1)
    return text


def issues_of(text: str, filename: str = "wf.yaml") -> list[ConfigIssue]:
    """The issues load_config reports for a text that must be invalid."""
    with pytest.raises(ConfigError) as caught:
        load_config(text, filename=filename)
    return caught.value.issues
