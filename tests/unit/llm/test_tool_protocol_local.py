"""The embedded model follows the JSON tool protocol: each turn is a tool call of an
offered tool with object arguments, or an answer (grammar-constrained, short turns)."""

from __future__ import annotations

import json

import pytest

from configurable_agents.llm import LLMRequest, get_provider
from configurable_agents.llm.local import LocalProvider

CALCULATOR = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}


@pytest.fixture(scope="module")
def local() -> LocalProvider:
    provider = get_provider("local", n_threads=2)
    assert isinstance(provider, LocalProvider)
    return provider


def test_the_embedded_model_calls_a_tool_then_answers_by_the_protocol(
    local: LocalProvider,
) -> None:
    messages: list[dict] = [
        {"role": "user", "content": "What is 17 * 23? Use the calculator tool."},
    ]
    seen = []
    for _ in range(2):
        response = local.complete(
            LLMRequest(messages=messages, tools=[CALCULATOR], max_tokens=64, temperature=0)
        )
        # Constrained decoding: the turn is one JSON object of the protocol, read back as
        # a call of the offered tool with object arguments, or as an answer.
        assert response.structured_output == "grammar"
        assert response.prompt_tokens > 0 and response.completion_tokens > 0
        if not response.tool_calls:
            seen.append("answer")
            break
        (call,) = response.tool_calls
        assert call.name == "calculator" and isinstance(call.arguments, dict)
        seen.append("call")
        messages += [
            {"role": "assistant", "content": "", "tool_calls": [call.as_message_part()]},
            {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": "391"},
        ]
    assert seen, "no turn"
    # The protocol as the model saw it: its own call as JSON, the result as a user turn.
    if len(messages) > 1:
        assert json.loads(json.dumps(messages[1]["tool_calls"][0]))["name"] == "calculator"
