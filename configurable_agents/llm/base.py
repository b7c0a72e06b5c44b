"""What every provider does the same way: defaults, structured output with bounded
repairs, totals of tokens and attempts, cost and latency.

A provider only implements :meth:`Provider._call`, one model call (with its own
transport retries), and says whether it can constrain output to a schema natively.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
from configurable_agents.llm.tool_calls import choice_schema, protocol_messages, protocol_turn
from configurable_agents.llm.types import LLMRequest, LLMResponse, TokenCallback, ToolCall

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_REPAIRS = 2

# How a structured answer was asked for, strongest constraint first (a provider's ladder is
# a sub-sequence of these; the step record names the one that produced the answer).
JSON_SCHEMA = "json_schema"  # response_format json_schema: OpenAI, vLLM, Ollama, LM Studio ...
JSON_OBJECT = "json_object"  # response_format json_object (+ schema), schema in the prompt
GRAMMAR = "grammar"  # the local model, decoding constrained by a grammar from the schema
TEXT = "text"  # the schema in the prompt only; validate-and-repair does the rest
STRUCTURED_METHODS = (JSON_SCHEMA, JSON_OBJECT, GRAMMAR, TEXT)


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
    should constrain the output natively (response_format, grammar), as ``method`` says."""

    messages: list[dict[str, str]]
    model: str
    temperature: float | None
    max_tokens: int | None
    timeout: float
    stream: bool = False
    on_token: TokenCallback | None = None
    schema: Mapping[str, Any] | None = None
    schema_name: str = "output"
    # The rung of the provider's structured-output ladder this call uses.
    method: str = TEXT
    # Whether this call probes a method the endpoint has not yet answered: a refusal is
    # then told apart from a failure at once, without spending transport retries.
    probe: bool = False
    # Tools the model may call (native tool calling): [{"name", "description", "parameters"}].
    tools: list[dict[str, Any]] | None = None


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
    tool_calls: list[ToolCall] = field(default_factory=list)


class SchemaNotSupported(Exception):
    """The endpoint refused this way of asking for structured output (``method``): the
    next rung of the ladder is tried. Not an error a caller ever sees."""

    def __init__(self, attempts: int, method: str = "", detail: str = "") -> None:
        super().__init__(f"structured output by {method or 'this method'} not supported")
        self.attempts = attempts
        self.method = method
        self.detail = detail


class MethodMemory:
    """Per endpoint (provider, URL, model): the structured-output method that last worked,
    shared by every provider instance of the process, so that finding it out costs at
    most one refused call per endpoint and process. While an endpoint is being probed,
    other requests to it wait for the answer instead of probing too."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, ...], str] = {}
        self._probes: dict[tuple[str, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> str | None:
        """The method that worked at this endpoint, if one is known."""
        with self._lock:
            return self._known.get(key)

    def remember(self, key: tuple[str, ...], method: str) -> None:
        with self._lock:
            self._known[key] = method

    def probe_lock(self, key: tuple[str, ...]) -> threading.Lock:
        """The lock held while this endpoint is probed."""
        with self._lock:
            return self._probes.setdefault(key, threading.Lock())

    def forget(self) -> None:
        """Forget every endpoint (tests; a server that was reconfigured)."""
        with self._lock:
            self._known.clear()


structured_methods = MethodMemory()


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
    # The ways _call can ask for structured output, strongest first; a refusal of one
    # (SchemaNotSupported) moves to the next. The last one is never refused.
    ladder: ClassVar[tuple[str, ...]] = (TEXT,)
    # Whether the schema is also described in the prompt when constrained natively
    # (small local models fill the fields better when they are told what they mean).
    schema_in_prompt: ClassVar[bool] = False
    # Whether the endpoint calls tools itself (tools / tool_calls); otherwise tool calls
    # follow the JSON protocol of llm/tool_calls.py, constrained like structured output.
    native_tools: ClassVar[bool] = False

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    def complete(self, request: LLMRequest) -> LLMResponse:
        """Run the request: one call, or with a schema as many as the repairs need."""
        started = time.perf_counter()
        tools = [dict(tool) for tool in request.tools or ()]
        call = Call(
            messages=[dict(message) for message in request.messages],
            model=request.model or self.model,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            timeout=request.timeout or self.timeout,
            # A turn that may call tools is read whole: its calls come at the end.
            stream=request.streaming and not tools,
            on_token=None if tools else request.on_token,
            schema_name=request.schema_name,
            tools=tools or None,
        )
        spent = _Spent()
        tool_calls: list[ToolCall] = []
        try:
            method = None
            if tools and not self.native_tools:
                result, method, tool_calls = self._protocol_turn(call, tools, spent)
                parsed = None
            elif request.json_schema is None:
                result = self._call(call)
                spent.add(result)
                parsed = None
                tool_calls = result.tool_calls
            else:
                result, parsed, method = self._structured(call, request.json_schema, spent)
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
            structured_output=method,
            tool_calls=tool_calls,
        )

    def _protocol_turn(
        self, call: Call, tools: list[dict[str, Any]], spent: _Spent
    ) -> tuple[CallResult, str, list[ToolCall]]:
        """One turn of the JSON tool protocol: the conversation in plain messages, the
        answer constrained to a tool call or an answer, read back as either."""
        plain = replace(call, messages=protocol_messages(call.messages, tools), tools=None)
        # The protocol's instruction already lists the tools and their arguments.
        result, parsed, method = self._structured(
            plain, choice_schema(tools), spent, describe=False
        )
        turn = 1 + sum(1 for message in call.messages if message.get("role") == "assistant")
        text, calls = protocol_turn(parsed, turn)
        return replace(result, text=text), method, calls

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        """:meth:`complete` in a worker thread, for async callers (a token callback then
        runs in that thread)."""
        import asyncio  # here: importing asyncio costs the CLI 45 ms at start

        return await asyncio.to_thread(self.complete, request)

    def endpoint_key(self, model: str) -> tuple[str, ...]:
        """What identifies an endpoint for :data:`structured_methods`."""
        return (self.name, model)

    def _structured(
        self, call: Call, schema: Mapping[str, Any], spent: _Spent, *, describe: bool = True
    ) -> tuple[CallResult, Any, str]:
        """The answer, parsed, and the method that produced it: down the ladder from the
        method known to work at this endpoint (or from the top, probing), then with
        bounded repairs. A refusal costs its call but no repair and no transport retry."""
        check_schema(schema)
        ladder = self.ladder
        key = self.endpoint_key(call.model)
        known = structured_methods.get(key)
        probing: threading.Lock | None = None
        if known is None and len(ladder) > 1:
            probing = structured_methods.probe_lock(key)
            probing.acquire()
            known = structured_methods.get(key)
            if known is not None:
                probing.release()
                probing = None
        rung = ladder.index(known) if known in ladder else 0
        try:
            asked = (
                self._schema_messages(call.messages, schema, ladder[rung])
                if describe
                else call.messages
            )
            repairs_left = self.max_repairs
            while True:
                method = ladder[rung]
                last = rung == len(ladder) - 1
                try:
                    result = self._call(
                        replace(
                            call,
                            messages=asked,
                            schema=None if method == TEXT else schema,
                            method=method,
                            probe=probing is not None and not last,
                        )
                    )
                except SchemaNotSupported as refused:
                    if last:  # pragma: no cover - a provider never refuses its last rung
                        raise
                    spent.attempts += refused.attempts
                    rung += 1
                    asked = self._schema_messages(call.messages, schema, ladder[rung])
                    if probing is None:
                        # A known method refused now (the server changed): find out again.
                        probing = structured_methods.probe_lock(key)
                        probing.acquire()
                    continue
                spent.add(result)
                if probing is not None:
                    structured_methods.remember(key, method)
                    probing.release()
                    probing = None
                parsed, errors = parse_and_validate(result.text, schema)
                if not errors:
                    return result, parsed, method
                if result.finish_reason == "length":
                    errors.append(
                        f"the answer was cut off at max_tokens={call.max_tokens}; raise max_tokens"
                    )
                if repairs_left == 0:
                    raise LLMStructuredOutputError(
                        f"{self.name} model {call.model!r} did not return JSON matching the "
                        f"output schema after {spent.attempts} attempts ({method}): "
                        + "; ".join(errors),
                        errors=errors,
                        last_text=result.text,
                        provider=self.name,
                    )
                repairs_left -= 1
                asked = repair_messages(asked, result.text, errors, schema)
        finally:
            if probing is not None:
                probing.release()

    def _schema_messages(
        self, messages: list[dict[str, str]], schema: Mapping[str, Any], method: str
    ) -> list[dict[str, str]]:
        # Only a server-enforced schema may stay out of the prompt; json_object and text
        # carry it in words (json_object alone does not say which object).
        if method in (JSON_SCHEMA, GRAMMAR) and not self.schema_in_prompt:
            return messages
        return with_instruction(messages, schema_instruction(schema))

    def _cost(self, model: str, spent: _Spent) -> Cost:
        if not spent.usage_known:
            return Cost(0.0, False, "the endpoint reported no token usage")
        return self.pricing.cost(model, spent.prompt_tokens, spent.completion_tokens)

    @abstractmethod
    def _call(self, call: Call) -> CallResult:
        """Make one model call (transport retries included) and return what it produced."""
