"""The ``openai`` provider: any OpenAI-compatible chat completions endpoint (OpenAI,
Ollama, vLLM, llama.cpp server, LM Studio, OpenRouter, Groq ...)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from configurable_agents.llm._http import HTTPProvider
from configurable_agents.llm.base import Call, CallResult, SchemaNotSupported
from configurable_agents.llm.errors import LLMHTTPError, LLMResponseError
from configurable_agents.llm.structured import is_strict_compatible


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
    """Chat completions over HTTP. Structured output asks for ``response_format:
    json_schema``; an endpoint that refuses it gets validate-and-repair instead. No key
    is sent unless a key variable is configured: local servers (Ollama, vLLM ...) often
    need none."""

    name = "openai"
    native_schema = True

    @staticmethod
    def endpoint_url(base_url: str) -> str:
        return chat_completions_url(base_url)

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _call(self, call: Call) -> CallResult:
        payload: dict[str, Any] = {"model": call.model, "messages": call.messages}
        if call.temperature is not None:
            payload["temperature"] = call.temperature
        if call.max_tokens is not None:
            payload["max_tokens"] = call.max_tokens
        if call.schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": call.schema_name,
                    "schema": dict(call.schema),
                    "strict": is_strict_compatible(call.schema),
                },
            }
        try:
            if call.stream:
                return self._stream(payload, call)
            body, attempts = self.endpoint.post(payload, call.timeout)
        except LLMHTTPError as error:
            if call.schema is not None and _refuses_response_format(error):
                raise SchemaNotSupported(error.attempts) from None
            raise
        return self._result(body, attempts)

    def _result(self, body: Any, attempts: int) -> CallResult:
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise self._bad_body(body) from None
        text = message.get("content")
        if text is None and message.get("refusal"):
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
        )

    def _stream(self, payload: dict[str, Any], call: Call) -> CallResult:
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

        attempts = self.endpoint.stream(payload, call.timeout, on_event)
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


def _refuses_response_format(error: LLMHTTPError) -> bool:
    detail = error.detail.lower()
    return error.status_code in (400, 422) and (
        "response_format" in detail or "json_schema" in detail
    )
