"""Tool calling in each provider's words.

The neutral conversation (see :class:`~configurable_agents.llm.types.LLMRequest`) has
assistant turns with ``tool_calls`` ``[{"id", "name", "arguments"}]`` and results
``{"role": "tool", "tool_call_id", "name", "content"}``. Here it becomes OpenAI's
``tools`` / ``tool_calls`` / ``role: tool``, Anthropic's ``tool_use`` / ``tool_result``
blocks, or, for a model without native tool calling (the embedded one), a JSON protocol:
each turn is one JSON object, ``{"tool": name, "arguments": {...}}`` or
``{"answer": "..."}``, with decoding constrained to that shape by a grammar.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from configurable_agents.llm.types import ToolCall

# Bounds the JSON protocol puts on strings (see _loose): enough for an expression, a path,
# a URL or a short text; an answer may be longer.
MAX_ARGUMENT_CHARS = 200
MAX_ANSWER_CHARS = 1000

# --- OpenAI-compatible -------------------------------------------------------------------


def openai_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``tools`` field of a chat completions request."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": dict(tool.get("parameters") or {"type": "object"}),
            },
        }
        for tool in tools
    ]


def openai_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The neutral conversation as chat completions messages."""
    result: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "assistant" and message.get("tool_calls"):
            result.append(
                {
                    "role": "assistant",
                    "content": message.get("content") or None,
                    "tool_calls": [
                        {
                            "id": call["id"],
                            "type": "function",
                            "function": {
                                "name": call["name"],
                                "arguments": json.dumps(call.get("arguments") or {}),
                            },
                        }
                        for call in message["tool_calls"]
                    ],
                }
            )
        elif message["role"] == "tool":
            result.append(
                {
                    "role": "tool",
                    "tool_call_id": message["tool_call_id"],
                    "content": message["content"],
                }
            )
        else:
            result.append({"role": message["role"], "content": message["content"]})
    return result


def openai_tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
    """The tool calls of a chat completions answer message."""
    calls = []
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        text = function.get("arguments")
        text = text if isinstance(text, str) else json.dumps(text or {})
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(function.get("name") or ""),
                arguments=_object_or_none(text),
                arguments_text=text,
            )
        )
    return calls


# --- Anthropic ---------------------------------------------------------------------------


def anthropic_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``tools`` field of a Messages request."""
    return [
        {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "input_schema": dict(tool.get("parameters") or {"type": "object"}),
        }
        for tool in tools
    ]


def anthropic_turns(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt and the conversation as Messages turns with content blocks:
    tool calls become ``tool_use`` blocks, results ``tool_result`` blocks of a user turn;
    consecutive turns of one role are merged (the API wants them alternating)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "system":
            continue
        blocks: list[dict[str, Any]] = []
        if role == "tool":
            role = "user"
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message["tool_call_id"],
                "content": message["content"],
            }
            if message.get("is_error"):
                block["is_error"] = True
            blocks.append(block)
        else:
            if message.get("content"):
                blocks.append({"type": "text", "text": message["content"]})
            for call in message.get("tool_calls") or []:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["name"],
                        "input": call.get("arguments") or {},
                    }
                )
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def anthropic_tool_calls(blocks: Sequence[Mapping[str, Any]]) -> list[ToolCall]:
    """The ``tool_use`` blocks of a Messages answer."""
    calls = []
    for index, block in enumerate(blocks):
        if block.get("type") != "tool_use":
            continue
        value = block.get("input")
        calls.append(
            ToolCall(
                id=str(block.get("id") or f"toolu_{index}"),
                name=str(block.get("name") or ""),
                arguments=value if isinstance(value, dict) else None,
                arguments_text=json.dumps(value),
            )
        )
    return calls


# --- the JSON protocol (models without native tool calling) ------------------------------


def choice_schema(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON Schema of one turn: call one of the tools, or answer."""
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "tool": {"type": "string", "enum": [tool["name"]]},
                "arguments": _loose(tool.get("parameters") or {"type": "object"}),
            },
            "required": ["tool", "arguments"],
        }
        for tool in tools
    ]
    answer = {"type": "string", "maxLength": MAX_ANSWER_CHARS}
    options.append({"type": "object", "properties": {"answer": answer}, "required": ["answer"]})
    return {"anyOf": options}


def protocol_instruction(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system prompt part that explains the protocol and lists the tools."""
    lines = [
        "You can call tools. Reply with exactly one JSON object and nothing else:",
        '{"tool": "<tool name>", "arguments": {...}} to call a tool, or',
        '{"answer": "<your final answer>"} when you can answer.',
        "Tools:",
    ]
    for tool in tools:
        parameters = json.dumps(tool.get("parameters") or {"type": "object"})
        lines.append(f"- {tool['name']}: {tool.get('description', '')} Arguments: {parameters}")
    return "\n".join(lines)


def protocol_messages(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """The conversation in plain messages: tool calls as the JSON the model wrote, results
    as user messages naming the tool; the protocol in the system prompt."""
    result: list[dict[str, str]] = []
    for message in messages:
        role = message["role"]
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                text = json.dumps({"tool": call["name"], "arguments": call.get("arguments") or {}})
                result.append({"role": "assistant", "content": text})
        elif role == "tool":
            name = message.get("name", "the tool")
            result.append({"role": "user", "content": f"Result of {name}: {message['content']}"})
        else:
            result.append({"role": role, "content": message["content"]})
    instruction = protocol_instruction(tools)
    if result and result[0]["role"] == "system":
        result[0] = {"role": "system", "content": f"{result[0]['content']}\n\n{instruction}"}
    else:
        result.insert(0, {"role": "system", "content": instruction})
    return result


def protocol_turn(value: Any, turn: int) -> tuple[str, list[ToolCall]]:
    """The answer text, or the tool call, of a turn parsed by the JSON protocol."""
    if isinstance(value, dict) and "tool" in value:
        arguments = value.get("arguments")
        call = ToolCall(
            id=f"call_{turn}",
            name=str(value["tool"]),
            arguments=arguments if isinstance(arguments, dict) else None,
            arguments_text=json.dumps(arguments),
        )
        return "", [call]
    if isinstance(value, dict) and "answer" in value:
        answer = value["answer"]
        return (answer if isinstance(answer, str) else json.dumps(answer)), []
    return json.dumps(value), []


def _object_or_none(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _loose(schema: Any) -> Any:
    # A small model that starts repeating itself inside a string runs to max_tokens and
    # leaves broken JSON: strings in the grammar get a length bound when they have none.
    # The loop checks the arguments against the tool's own schema afterwards.
    if not isinstance(schema, Mapping):
        return schema
    result = {key: value for key, value in schema.items()}
    if result.get("type") == "string" and "maxLength" not in result and "enum" not in result:
        result["maxLength"] = MAX_ARGUMENT_CHARS
    if isinstance(result.get("properties"), Mapping):
        result["properties"] = {k: _loose(v) for k, v in result["properties"].items()}
    if isinstance(result.get("items"), Mapping):
        result["items"] = _loose(result["items"])
    return result
