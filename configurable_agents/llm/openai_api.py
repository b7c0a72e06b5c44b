"""The ``openai`` provider: any OpenAI-compatible chat completions endpoint (OpenAI,
Ollama, vLLM, llama.cpp server, LM Studio, OpenRouter, Groq ...)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from configurable_agents.llm._http import HTTPProvider
from configurable_agents.llm.base import (
    JSON_OBJECT,
    JSON_SCHEMA,
    TEXT,
    Call,
    CallResult,
    SchemaNotSupported,
)
from configurable_agents.llm.errors import LLMHTTPError, LLMResponseError
from configurable_agents.llm.structured import is_strict_compatible, without_patterns
from configurable_agents.llm.tool_calls import openai_messages, openai_tool_calls, openai_tools

# The statuses a server answers a response_format it does not know with: 400 (OpenAI-style
# validation), 422 (FastAPI validation) and 500 (llama-cpp-python's server wraps its
# validation error). On a probe these are a refusal, not a failure worth a retry.
REFUSAL_STATUSES = frozenset({400, 422, 500})


def chat_completions_url(base_url: str) -> str:
    """The chat completions URL of a base URL: ``.../v1`` gets ``/chat/completions``; a
    bare host (``http://127.0.0.1:8080``) is taken to mean its ``/v1``."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if not urlsplit(url).path:
        url += "/v1"
    return url + "/chat/completions"


class OpenAIProvider(HTTPProvider):
    """Chat completions over HTTP. No key is sent unless a key variable is configured:
    local servers (Ollama, vLLM ...) often need none.

    Structured output goes down a ladder, per endpoint: ``response_format`` json_schema
    (OpenAI, vLLM, Ollama, LM Studio); when refused, json_object with the schema (which
    llama-cpp-python's server turns into a grammar) and the schema in the prompt; when
    refused too, plain text with the schema in the prompt. Every answer is validated and
    repaired the same way. What works is remembered per endpoint for the process."""

    name = "openai"
    ladder = (JSON_SCHEMA, JSON_OBJECT, TEXT)
    native_tools = True

    @staticmethod
    def endpoint_url(base_url: str) -> str:
        return chat_completions_url(base_url)

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _call(self, call: Call) -> CallResult:
        payload: dict[str, Any] = {"model": call.model, "messages": openai_messages(call.messages)}
        if call.tools:
            payload["tools"] = openai_tools(call.tools)
        if call.temperature is not None:
            payload["temperature"] = call.temperature
        if call.max_tokens is not None:
            payload["max_tokens"] = call.max_tokens
        asks_format = call.schema is not None and call.method in (JSON_SCHEMA, JSON_OBJECT)
        if asks_format and call.method == JSON_SCHEMA:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": call.schema_name,
                    "schema": dict(call.schema),
                    "strict": is_strict_compatible(call.schema),
                },
            }
        elif asks_format:
            # "schema" is llama-cpp-python's extension (others ignore it); its grammar
            # converter crashes on some patterns, which validation checks afterwards.
            payload["response_format"] = {
                "type": "json_object",
                "schema": without_patterns(call.schema),
            }
        no_retry = REFUSAL_STATUSES if asks_format and call.probe else ()
        try:
            if call.stream:
                return self._stream(payload, call, no_retry)
            body, attempts = self.endpoint.post(payload, call.timeout, no_retry)
        except LLMHTTPError as error:
            if asks_format and refuses_response_format(error, probe=call.probe):
                raise SchemaNotSupported(error.attempts, call.method, error.detail) from None
            raise
        return self._result(body, attempts)

    def _result(self, body: Any, attempts: int) -> CallResult:
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise self._bad_body(body) from None
        text = message.get("content")
        calls = openai_tool_calls(message)
        if text is None and not calls and message.get("refusal"):
            raise LLMResponseError(
                f"the model refused to answer: {message['refusal']}", provider=self.name
            )
        usage = body.get("usage") or {}
        return CallResult(
            text=text or "",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            attempts=attempts,
            finish_reason=choice.get("finish_reason"),
            raw=body,
            usage_known=bool(usage),
            tool_calls=calls,
        )

    def _stream(
        self, payload: dict[str, Any], call: Call, no_retry: Collection[int] = ()
    ) -> CallResult:
        payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        pieces: list[str] = []
        state: dict[str, Any] = {"usage": None, "finish_reason": None, "last": None}

        def on_event(chunk: dict) -> None:
            state["last"] = chunk
            if chunk.get("usage"):
                state["usage"] = chunk["usage"]
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    pieces.append(piece)
                    if call.on_token is not None:
                        call.on_token(piece)
                state["finish_reason"] = choice.get("finish_reason") or state["finish_reason"]

        attempts = self.endpoint.stream(payload, call.timeout, on_event, no_retry)
        usage = state["usage"] or {}
        return CallResult(
            text="".join(pieces),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            attempts=attempts,
            finish_reason=state["finish_reason"],
            raw=state["last"],
            usage_known=bool(usage),
        )

    def _bad_body(self, body: Any) -> LLMResponseError:
        return LLMResponseError(
            f"the {self.name} endpoint {self.endpoint.url} answered without "
            f"choices[0].message: {str(body)[:200]}",
            provider=self.name,
        )


def refuses_response_format(error: LLMHTTPError, *, probe: bool) -> bool:
    """Whether ``error`` is the endpoint refusing the response_format asked for: an error
    that names it, or a refusal status on the first try of a method at this endpoint."""
    detail = error.detail.lower()
    if any(word in detail for word in _NOT_A_REFUSAL):
        return False
    if any(word in detail for word in ("response_format", "json_schema", "json_object")):
        return error.status_code <= 500
    return probe and error.status_code in REFUSAL_STATUSES


# A prompt too long for the model fails the same way whatever the response_format: its
# error goes to the caller at once instead of down the ladder.
_NOT_A_REFUSAL = ("context length", "context_length", "context window")
