"""The ``anthropic`` provider: the Anthropic Messages API (``/v1/messages``)."""

from __future__ import annotations

from typing import Any

from configurable_agents.llm._http import HTTPProvider
from configurable_agents.llm.base import Call, CallResult
from configurable_agents.llm.errors import LLMRequestError, LLMResponseError
from configurable_agents.llm.tool_calls import (
    anthropic_tool_calls,
    anthropic_tools,
    anthropic_turns,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_API_KEY_ENV = "ANTHROPIC_API_KEY"
API_VERSION = "2023-06-01"
# The Messages API requires max_tokens; this is used when the request gives none.
DEFAULT_MAX_TOKENS = 1024
# Anthropic's stop reasons in the words the other providers use.
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def messages_url(base_url: str) -> str:
    """The Messages URL of a base URL (with or without its ``/v1``)."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/messages"):
        return url
    return url + ("/messages" if url.endswith("/v1") else "/v1/messages")


def split_system(messages: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    """The system prompt (all system messages joined) and the conversation, with
    consecutive messages of one role merged, since the API wants them alternating."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns: list[dict[str, str]] = []
    for message in messages:
        if message["role"] == "system":
            continue
        if turns and turns[-1]["role"] == message["role"]:
            turns[-1] = {
                "role": message["role"],
                "content": f"{turns[-1]['content']}\n\n{message['content']}",
            }
        else:
            turns.append({"role": message["role"], "content": message["content"]})
    if not turns or turns[0]["role"] != "user":
        raise LLMRequestError("the anthropic provider needs a user message before any other")
    return system, turns


class AnthropicProvider(HTTPProvider):
    """Messages over HTTP. Structured output by validate-and-repair (the schema goes in
    the system prompt; answers that do not match are sent back with the errors)."""

    name = "anthropic"
    native_tools = True
    default_api_key_env = DEFAULT_API_KEY_ENV
    key_required = True
    extra_headers = {"anthropic-version": API_VERSION}

    @staticmethod
    def endpoint_url(base_url: str) -> str:
        return messages_url(base_url or DEFAULT_BASE_URL)

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _call(self, call: Call) -> CallResult:
        if call.tools or any(m.get("role") == "tool" for m in call.messages):
            system, turns = anthropic_turns(call.messages)
            if not turns or turns[0]["role"] != "user":
                raise LLMRequestError(
                    "the anthropic provider needs a user message before any other"
                )
        else:
            system, turns = split_system(call.messages)  # type: ignore[assignment]
        payload: dict[str, Any] = {
            "model": call.model,
            "messages": turns,
            "max_tokens": call.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system:
            payload["system"] = system
        if call.temperature is not None:
            payload["temperature"] = call.temperature
        if call.tools:
            payload["tools"] = anthropic_tools(call.tools)
        if call.stream:
            return self._stream(payload, call)
        body, attempts = self.endpoint.post(payload, call.timeout)
        try:
            blocks = body["content"]
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        except (KeyError, TypeError, AttributeError):
            raise LLMResponseError(
                f"the anthropic endpoint {self.endpoint.url} answered without content "
                f"blocks: {str(body)[:200]}",
                provider=self.name,
            ) from None
        usage = body.get("usage") or {}
        return CallResult(
            text=text,
            prompt_tokens=int(usage.get("input_tokens") or 0),
            completion_tokens=int(usage.get("output_tokens") or 0),
            attempts=attempts,
            finish_reason=_FINISH.get(body.get("stop_reason"), body.get("stop_reason")),
            raw=body,
            usage_known=bool(usage),
            tool_calls=anthropic_tool_calls(blocks),
        )

    def _stream(self, payload: dict[str, Any], call: Call) -> CallResult:
        pieces: list[str] = []
        state: dict[str, Any] = {"input": None, "output": None, "stop": None, "last": None}

        def on_event(event: dict) -> None:
            state["last"] = event
            kind = event.get("type")
            if kind == "message_start":
                usage = (event.get("message") or {}).get("usage") or {}
                state["input"] = usage.get("input_tokens", state["input"])
                state["output"] = usage.get("output_tokens", state["output"])
            elif kind == "content_block_delta":
                piece = (event.get("delta") or {}).get("text")
                if piece:
                    pieces.append(piece)
                    if call.on_token is not None:
                        call.on_token(piece)
            elif kind == "message_delta":
                state["stop"] = (event.get("delta") or {}).get("stop_reason") or state["stop"]
                usage = event.get("usage") or {}
                state["output"] = usage.get("output_tokens", state["output"])
            elif kind == "error":
                error = event.get("error") or {}
                raise LLMResponseError(
                    f"the anthropic stream reported an error: "
                    f"{error.get('type', 'error')}: {error.get('message', '')}",
                    provider=self.name,
                )

        attempts = self.endpoint.stream({**payload, "stream": True}, call.timeout, on_event)
        return CallResult(
            text="".join(pieces),
            prompt_tokens=int(state["input"] or 0),
            completion_tokens=int(state["output"] or 0),
            attempts=attempts,
            finish_reason=_FINISH.get(state["stop"], state["stop"]),
            raw=state["last"],
            usage_known=state["input"] is not None and state["output"] is not None,
        )
