"""What every provider does the same way: defaults, structured output with bounded
repairs, totals of tokens and attempts, cost and latency.

A provider only implements :meth:`Provider._call`, one model call (with its own
transport retries), and says whether it can constrain output to a schema natively.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from configurable_agents.llm.errors import LLMError, LLMStructuredOutputError
from configurable_agents.llm.pricing import Cost, PriceTable
from configurable_agents.llm.retry import RetryPolicy
from configurable_agents.llm.structured import (
    check_schema,
    parse_and_validate,
    repair_messages,
    schema_instruction,
    with_instruction,
)
from configurable_agents.llm.types import LLMRequest, LLMResponse, TokenCallback

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_REPAIRS = 2


@dataclass(frozen=True, slots=True)
class SettingNames:
    """Where each value came from, so an error can say what to change. The defaults are
    the environment settings; a workflow passes the paths of its own config fields."""

    base_url: str = "LLM_BASE_URL"
    api_key_env: str = "LLM_API_KEY_ENV"
    timeout: str = "LLM_TIMEOUT"
    model: str = "LLM_MODEL"


@dataclass(slots=True)
class Call:
    """One model call as a provider makes it. ``schema`` is set only when the provider
    should constrain the output natively (response_format, grammar)."""

    messages: list[dict[str, str]]
    model: str
    temperature: float | None
    max_tokens: int | None
    timeout: float
    stream: bool = False
    on_token: TokenCallback | None = None
    schema: Mapping[str, Any] | None = None
    schema_name: str = "output"


@dataclass(slots=True)
class CallResult:
    """What one model call returned. ``usage_known`` is False when the endpoint did
    not report token counts."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    finish_reason: str | None = None
    raw: Any = None
    usage_known: bool = True


class SchemaNotSupported(Exception):
    """The endpoint refused native structured output: ask again with validate-and-repair."""

    def __init__(self, attempts: int) -> None:
        super().__init__("native structured output not supported")
        self.attempts = attempts


@dataclass(slots=True)
class _Spent:
    """Tokens and attempts added up over the calls of one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    usage_known: bool = True

    def add(self, result: CallResult) -> None:
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.attempts += result.attempts
        self.usage_known = self.usage_known and result.usage_known


class Provider(ABC):
    """An LLM endpoint or engine. Thread-safe: one instance serves a whole process."""

    name: ClassVar[str]
    # Whether _call can constrain output to call.schema itself.
    native_schema: ClassVar[bool] = False
    # Whether the schema is also described in the prompt when constrained natively
    # (small local models fill the fields better when they are told what they mean).
    schema_in_prompt: ClassVar[bool] = False

    def __init__(
        self,
        *,
        model: str,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        pricing: PriceTable | None = None,
        max_repairs: int = DEFAULT_MAX_REPAIRS,
        setting_names: SettingNames | None = None,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.pricing = pricing or PriceTable()
        self.max_repairs = max(0, max_repairs)
        self.setting_names = setting_names or SettingNames()
        # Models whose endpoint refused native structured output once: not asked again.
        self._schema_refused: set[str] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    def complete(self, request: LLMRequest) -> LLMResponse:
        """Run the request: one call, or with a schema as many as the repairs need."""
        started = time.perf_counter()
        call = Call(
            messages=[dict(message) for message in request.messages],
            model=request.model or self.model,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            timeout=request.timeout or self.timeout,
            stream=request.streaming,
            on_token=request.on_token,
            schema_name=request.schema_name,
        )
        spent = _Spent()
        try:
            if request.json_schema is None:
                result = self._call(call)
                spent.add(result)
                parsed = None
            else:
                result, parsed = self._structured(call, request.json_schema, spent)
        except LLMError as error:
            # The error tells how many calls this request made in all, not only the last.
            error.attempts += spent.attempts
            error.provider = error.provider or self.name
            raise
        cost = self._cost(call.model, spent)
        return LLMResponse(
            text=result.text,
            provider=self.name,
            model=call.model,
            prompt_tokens=spent.prompt_tokens,
            completion_tokens=spent.completion_tokens,
            cost=cost.amount,
            cost_known=cost.known,
            cost_note=cost.note,
            latency_ms=(time.perf_counter() - started) * 1000,
            attempts=spent.attempts,
            parsed=parsed,
            finish_reason=result.finish_reason,
            raw=result.raw,
        )

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        """:meth:`complete` in a worker thread, for async callers (a token callback then
        runs in that thread)."""
        import asyncio  # here: importing asyncio costs the CLI 45 ms at start

        return await asyncio.to_thread(self.complete, request)

    def _structured(
        self, call: Call, schema: Mapping[str, Any], spent: _Spent
    ) -> tuple[CallResult, Any]:
        check_schema(schema)
        native = self.native_schema and call.model not in self._schema_refused
        asked = self._schema_messages(call.messages, schema, native)
        repairs_left = self.max_repairs
        while True:
            try:
                result = self._call(
                    replace(call, messages=asked, schema=schema if native else None)
                )
            except SchemaNotSupported as refused:
                spent.attempts += refused.attempts
                self._schema_refused.add(call.model)
                native = False
                asked = self._schema_messages(call.messages, schema, native)
                continue
            spent.add(result)
            parsed, errors = parse_and_validate(result.text, schema)
            if not errors:
                return result, parsed
            if result.finish_reason == "length":
                errors.append(
                    f"the answer was cut off at max_tokens={call.max_tokens}; raise max_tokens"
                )
            if repairs_left == 0:
                raise LLMStructuredOutputError(
                    f"{self.name} model {call.model!r} did not return JSON matching the output "
                    f"schema after {spent.attempts} attempts: " + "; ".join(errors),
                    errors=errors,
                    last_text=result.text,
                    provider=self.name,
                )
            repairs_left -= 1
            asked = repair_messages(asked, result.text, errors, schema)

    def _schema_messages(
        self, messages: list[dict[str, str]], schema: Mapping[str, Any], native: bool
    ) -> list[dict[str, str]]:
        if native and not self.schema_in_prompt:
            return messages
        return with_instruction(messages, schema_instruction(schema))

    def _cost(self, model: str, spent: _Spent) -> Cost:
        if not spent.usage_known:
            return Cost(0.0, False, "the endpoint reported no token usage")
        return self.pricing.cost(model, spent.prompt_tokens, spent.completion_tokens)

    @abstractmethod
    def _call(self, call: Call) -> CallResult:
        """Make one model call (transport retries included) and return what it produced."""
