"""Small workflows the serving tests and benchmark share."""

from __future__ import annotations

ONE_LLM_NODE = """\
schema_version: 1
name: {name}
state:
  text: {{type: str, required: true}}
  reply: {{type: str}}
nodes:
  - {{id: {node}, kind: llm, prompt: "{{text}}", output: reply}}
edges:
  - {{from: START, to: {node}}}
  - {{from: {node}, to: END}}
"""


def echo_workflow(name: str = "echo", node: str = "answer") -> str:
    """One llm node whose prompt is the run's ``text`` and whose answer is ``reply``."""
    return ONE_LLM_NODE.format(name=name, node=node)


CALCULATOR_AGENT = """\
schema_version: 1
name: {name}
state:
  question: {{type: str, required: true}}
  answer: {{type: str}}
nodes:
  - id: solve
    kind: llm
    prompt: "{{question}}"
    output: answer
    max_tool_calls: {max_tool_calls}
    tools: [calculator]
edges:
  - {{from: START, to: solve}}
  - {{from: solve, to: END}}
"""


def calculator_agent(name: str = "calculating", max_tool_calls: int = 10) -> str:
    """One tool-using llm node (the agent loop) whose only tool is the calculator."""
    return CALCULATOR_AGENT.format(name=name, max_tool_calls=max_tool_calls)


def fake_llm_settings(base_url: str) -> dict[str, str]:
    """Settings that send every llm node to the scripted server at ``base_url``, untracked."""
    return {
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": base_url,
        "LLM_MODEL": "fake-model",
        "TRACKING_ENABLED": "false",
    }


# Two calculator steps and no model: a workflow whose run is instant and offline.
PRICE_WORKFLOW = """\
schema_version: 1
name: price
description: The price of an order with tax.
state:
  unit: {type: float, required: true, description: Price of one item}
  quantity: {type: int, default: 1}
  net: {type: float}
  gross: {type: float}
nodes:
  - {id: multiply, kind: tool, tool: calculator, args: {expression: "unit * quantity"}, output: net}
  - {id: tax, kind: tool, tool: calculator, args: {expression: "round(net * 1.2, 2)"}, output: gross}
edges:
  - {from: START, to: multiply}
  - {from: multiply, to: tax}
  - {from: tax, to: END}
"""
