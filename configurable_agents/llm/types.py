"""What goes into an LLM call and what comes out, the same for every provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from configurable_agents.llm.errors import LLMRequestError

ROLES = ("system", "user", "assistant", "tool")

TokenCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One chat completion request.

    ``messages`` is a list of ``{"role": ..., "content": ...}`` with roles system, user
    and assistant; with ``tools`` also assistant turns that call tools
    (``"tool_calls": [{"id", "name", "arguments"}]``) and their results
    (``{"role": "tool", "tool_call_id", "name", "content"}``): see :mod:`.tool_calls`.
    ``None`` for model, temperature, max_tokens or timeout means the
    provider's default. ``json_schema`` asks for a JSON object matching that JSON Schema;
    the response then carries it parsed. ``on_token`` (or ``stream=True``) streams: the
    callback gets each piece of text as it arrives, in order (with a schema, the pieces
    of an answer that then needs a repair come before those of the repaired one).
    """

    messages: Sequence[Mapping[str, str]]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    json_schema: Mapping[str, Any] | None = None
    schema_name: str = "output"
    stream: bool = False
    on_token: TokenCallback | None = field(default=None, repr=False, compare=False)
    # Tools the model may call: [{"name", "description", "parameters": JSON Schema}].
    tools: Sequence[Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise LLMRequestError("an LLM request needs at least one message")
        for index, message in enumerate(self.messages):
            role = message.get("role") if isinstance(message, Mapping) else None
            if role not in ROLES:
                raise LLMRequestError(
                    f"message {index}: role must be one of {', '.join(ROLES)}, got {role!r}"
                )
            if not isinstance(message.get("content"), str):
                raise LLMRequestError(f"message {index}: content must be a string")
            if role == "tool" and not message.get("tool_call_id"):
                raise LLMRequestError(f"message {index}: a tool result needs its tool_call_id")
        if self.tools and self.json_schema is not None:
            raise LLMRequestError("a request offers tools or asks for a schema, not both")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise LLMRequestError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.timeout is not None and self.timeout <= 0:
            raise LLMRequestError(f"timeout must be positive, got {self.timeout}")

    @property
    def streaming(self) -> bool:
        """Whether the text is streamed (asked for, or implied by a token callback)."""
        return self.stream or self.on_token is not None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool the model asked to call. ``arguments`` is the parsed JSON object, or None
    when the model's arguments were not one (``arguments_text`` holds what it sent)."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    arguments_text: str = ""

    def as_message_part(self) -> dict[str, Any]:
        """The call as an assistant message carries it back to the model."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments or {}}


@dataclass(slots=True)
class LLMResponse:
    """The answer of a call, with what it cost.

    Token counts and cost add up every model call the request needed (retries after an
    error status cost nothing, but each structured-output repair is a full call).
    ``cost_known`` is False when no price is known for the model (the cost is then 0
    and ``cost_note`` says why). ``attempts`` counts every HTTP request or local
    generation made, retries and repairs included. ``structured_output`` says how a
    structured answer was asked for (json_schema, json_object, grammar or text: see
    :mod:`configurable_agents.llm.base`); None without a schema.
    """

    text: str
    provider: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cost_known: bool = True
    cost_note: str = ""
    latency_ms: float = 0.0
    attempts: int = 1
    parsed: Any = None
    finish_reason: str | None = None
    raw: Any = field(default=None, repr=False)
    structured_output: str | None = None
    # The tools the model asked to call (a request with tools); empty when it answered.
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens
