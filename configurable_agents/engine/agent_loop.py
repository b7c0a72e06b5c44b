"""The agent loop of a tool-using llm node: the model may call tools, their results go back
to it, until it answers or ``max_tool_calls`` is reached (the step then fails saying so).

Every call is a step of its own, keyed ``<node>#<visit>/tool#<n>``, stored under the node:
arguments, result or error, latency, and the model turn that asked for it (the first call
of a turn carries that turn's tokens and cost; the node's step carries the answering
turn's). A resumed run replays stored turns and calls from these steps, so a completed
call is never made twice. A tool marked ``approve`` pauses the run before its call; the
person's decision, stored on the call's step, lets it run or tells the model it was
refused. Whatever goes wrong in a call (unknown tool, arguments that do not fit, the
tool's own error, a result too large) goes back to the model as that call's result.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from configurable_agents.config.schema import LLMNode
from configurable_agents.config.templates import render_template
from configurable_agents.engine.context import RunContext, now_ns
from configurable_agents.engine.tool_catalog import resolve_tools
from configurable_agents.engine.toolspec import ToolCallContext, ToolError, ToolSpec
from configurable_agents.llm.structured import parse_and_validate, validation_errors
from configurable_agents.llm.types import LLMRequest, LLMResponse, ToolCall
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import steps
from configurable_agents.tracking.mlflow_logger import SpanRecord

TOOL_CALL = "tool_call"
# The most a tool result may weigh (its JSON text): a larger one is dropped, and the model
# is told so, rather than filling the model's context and the database.
MAX_RESULT_BYTES = 256 * 1024


class ToolCallLimitError(Exception):
    """The model kept calling tools past the node's max_tool_calls without answering."""

    def __init__(self, message: str, spent: Usage) -> None:
        super().__init__(message)
        self.spent = spent


class ToolApprovalPending(Exception):
    """The run pauses until a person decides on a tool call (stored as a waiting step)."""

    def __init__(self, node: str, message: str, step_key: str) -> None:
        super().__init__(message)
        self.approval = {"node": node, "message": message, "step_key": step_key}


@dataclass
class Usage:
    """Tokens and cost of model turns not yet stored on any step."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    provider: str | None = None
    model: str | None = None
    attempts: int = 0

    def add(self, response: LLMResponse) -> None:
        self.prompt_tokens += response.prompt_tokens
        self.completion_tokens += response.completion_tokens
        self.cost += response.cost
        self.provider, self.model = response.provider, response.model
        self.attempts += response.attempts

    def take(self) -> Usage:
        """These amounts, leaving zero behind (they are stored once)."""
        taken = Usage(**self.__dict__)
        self.prompt_tokens = self.completion_tokens = self.attempts = 0
        self.cost = 0.0
        return taken


@dataclass
class LoopResult:
    """What the loop ends with: the answer and what the node's own step records."""

    text: str
    parsed: Any
    messages: list[dict[str, Any]]
    usage: Usage
    calls: int
    turns: int
    structured_output: str | None = None
    tools: list[str] = field(default_factory=list)


def run_agent_loop(
    node: LLMNode, state: dict[str, Any], ctx: RunContext, step_key: str
) -> LoopResult:
    """Run the node's loop to its answer (ToolCallLimitError past max_tool_calls,
    ToolApprovalPending when a call waits for a person)."""
    config = ctx.config
    llm = config.effective_llm(node)
    provider = ctx.providers.get(llm, config.pricing)
    specs = resolve_tools(node, ctx)
    by_name = {spec.name: spec for spec in specs}
    offered = [spec.schema() for spec in specs]
    messages: list[dict[str, Any]] = []
    if node.system:
        messages.append({"role": "system", "content": render_template(node.system, state)})
    messages.append({"role": "user", "content": render_template(node.prompt, state)})
    stored = _stored_calls(ctx, step_key)
    usage = Usage()
    calls = turns = 0
    while True:
        turns += 1
        first_key = f"{step_key}/tool#{calls + 1}"
        replayed = stored.get(first_key)
        if replayed is not None:
            assistant = dict((replayed.input or {}).get("assistant") or {})
        else:
            response = provider.complete(
                LLMRequest(
                    messages=messages,
                    temperature=llm.temperature,
                    max_tokens=llm.max_tokens,
                    timeout=llm.timeout,
                    tools=offered,
                )
            )
            usage.add(response)
            if not response.tool_calls:
                return _answer(
                    node, ctx, llm, provider, messages, response, usage, calls, turns, specs
                )
            assistant = {
                "role": "assistant",
                "content": response.text,
                "tool_calls": [call.as_message_part() for call in response.tool_calls],
            }
            # Arguments the model sent that were no JSON object: kept to tell it so.
            assistant["raw_arguments"] = {
                call.id: call.arguments_text
                for call in response.tool_calls
                if call.arguments is None
            }
        messages.append({k: v for k, v in assistant.items() if k != "raw_arguments"})
        for part in assistant.get("tool_calls") or []:
            calls += 1
            if calls > node.max_tool_calls:
                raise ToolCallLimitError(
                    f"the model asked for more than max_tool_calls={node.max_tool_calls} tool "
                    f"calls without answering (turn {turns} asked for {part.get('name')})",
                    usage.take(),
                )
            call = ToolCall(
                id=part["id"],
                name=part["name"],
                arguments=None
                if part["id"] in (assistant.get("raw_arguments") or {})
                else part.get("arguments") or {},
                arguments_text=(assistant.get("raw_arguments") or {}).get(part["id"], ""),
            )
            key = f"{step_key}/tool#{calls}"
            content = _perform(
                node, ctx, key, call, by_name, stored.get(key), assistant, turns, usage
            )
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": content}
            )


def _answer(
    node: LLMNode,
    ctx: RunContext,
    llm: Any,
    provider: Any,
    messages: list[dict[str, Any]],
    response: LLMResponse,
    usage: Usage,
    calls: int,
    turns: int,
    specs: list[ToolSpec],
) -> LoopResult:
    """The loop's end: the answer, parsed when the node has typed outputs (asked again
    under the schema, without tools, when the free answer does not fit it)."""
    schema = ctx.config.structured_output_schema(node)
    parsed: Any = None
    text = response.text
    method = None
    if schema is not None:
        parsed, errors = parse_and_validate(text, schema)
        if errors:
            final = provider.complete(
                LLMRequest(
                    messages=[
                        *messages,
                        {"role": "assistant", "content": text or "(no answer)"},
                        {"role": "user", "content": "Give your final answer now."},
                    ],
                    temperature=llm.temperature,
                    max_tokens=llm.max_tokens,
                    timeout=llm.timeout,
                    json_schema=schema,
                    schema_name=node.id,
                )
            )
            usage.add(final)
            text, parsed, method = final.text, final.parsed, final.structured_output
    return LoopResult(
        text=text,
        parsed=parsed,
        messages=messages,
        usage=usage.take(),
        calls=calls,
        turns=turns,
        structured_output=method,
        tools=[spec.name for spec in specs],
    )


# --- one call ----------------------------------------------------------------------------------


def _perform(
    node: LLMNode,
    ctx: RunContext,
    key: str,
    call: ToolCall,
    by_name: dict[str, ToolSpec],
    stored: Any,
    assistant: dict[str, Any],
    turn: int,
    usage: Usage,
) -> str:
    """The content that goes back to the model for this call: replayed from its stored
    step, or made now (after a person's approval when the tool asks for one)."""
    if stored is not None and stored.state in (steps.COMPLETED, steps.FAILED):
        return _content_of(stored)
    spec = by_name.get(call.name)
    problem = _problem(call, spec, by_name)
    step_input = {
        "tool": call.name,
        "arguments": call.arguments if call.arguments is not None else call.arguments_text,
        "turn": turn,
        "assistant": assistant,
    }
    if spec is not None:
        step_input["source"] = f"{spec.kind} {spec.source}".strip()
    started_at, started, clock = datetime.now(UTC), now_ns(), time.perf_counter()
    if problem is None and spec is not None and spec.approve:
        decision = _decision(stored)
        if decision is None:
            if stored is None:
                message = (
                    f"The model wants to call tool {call.name} with arguments "
                    f"{json.dumps(call.arguments, ensure_ascii=False)}"
                )
                _store(
                    ctx,
                    node,
                    key,
                    {**step_input, "message": message},
                    usage.take(),
                    started_at,
                    0.0,
                    state=steps.AWAITING_APPROVAL,
                )
                raise ToolApprovalPending(node.id, message, key)
            raise ToolApprovalPending(node.id, str((stored.input or {}).get("message")), key)
        if not decision.get("approved"):
            comment = str(decision.get("comment") or "").strip()
            refusal = f"a person refused this call of {call.name}" + (
                f": {comment}" if comment else ""
            )
            _decide(
                ctx,
                key,
                {"approved": False, "comment": comment},
                error=("ToolCallRefused", refusal),
            )
            _span(ctx, node, key, call, started, error=refusal)
            return json.dumps({"error": refusal})
    if problem is not None:
        content, result, error = json.dumps({"error": problem}), None, ("ToolCallRejected", problem)
    else:
        assert spec is not None
        content, result, error = _invoke(spec, call, ToolCallContext(ctx, node.id, key))
    latency = (time.perf_counter() - clock) * 1000
    if stored is not None:  # an approved call, waiting until now
        _decide(
            ctx,
            key,
            {"approved": True, "comment": str((_decision(stored) or {}).get("comment") or "")},
            result=result,
            error=error,
            latency_ms=latency,
        )
    else:
        _store(
            ctx,
            node,
            key,
            step_input,
            usage.take(),
            started_at,
            latency,
            result=result,
            error=error,
        )
    _span(ctx, node, key, call, started, result=result, error=error[1] if error else None)
    return content


def _problem(call: ToolCall, spec: ToolSpec | None, by_name: dict[str, ToolSpec]) -> str | None:
    """Why this call cannot be made as asked, in words for the model; None when it can."""
    if spec is None:
        known = ", ".join(sorted(by_name)) or "none"
        return f"there is no tool named {call.name!r}; the tools are: {known}"
    if call.arguments is None:
        return (
            f"the arguments of {call.name} must be a JSON object; got {call.arguments_text[:200]!r}"
        )
    errors = validation_errors(call.arguments, spec.parameters)
    if errors:
        return f"the arguments do not fit the schema of tool {call.name}: " + "; ".join(errors[:5])
    return None


def _invoke(
    spec: ToolSpec, call: ToolCall, context: ToolCallContext
) -> tuple[str, dict[str, Any] | None, tuple[str, str] | None]:
    """(content for the model, what the step stores as output, error or None)."""
    try:
        value = spec.invoke(dict(call.arguments or {}), context)
    except ToolError as failure:
        message = str(failure) or type(failure).__name__
        return json.dumps({"error": message}), _with_notes(None, context), ("ToolError", message)
    except Exception as failure:  # a tool's own bug still goes back to the model
        message = f"{type(failure).__name__}: {failure}"
        return (
            json.dumps({"error": message}),
            _with_notes(None, context),
            (type(failure).__name__, message),
        )
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_RESULT_BYTES:
        message = (
            f"the result of {spec.name} is {size} bytes, more than the {MAX_RESULT_BYTES} bytes a "
            "tool result may have; it was dropped"
        )
        return (
            json.dumps({"error": message}),
            _with_notes(None, context),
            ("ToolResultTooLarge", message),
        )
    return text, _with_notes({"result": value}, context), None


def _with_notes(output: dict[str, Any] | None, context: ToolCallContext) -> dict[str, Any] | None:
    if not context.notes:
        return output
    return {**(output or {}), **context.notes}


def _content_of(step: Any) -> str:
    """What a stored call gave the model (the same text it gets on a replay)."""
    if step.error_message:
        return json.dumps({"error": step.error_message})
    value = (step.output or {}).get("result")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _decision(stored: Any) -> dict[str, Any] | None:
    if stored is None:
        return None
    decision = (stored.output or {}).get("decision")
    return decision if isinstance(decision, dict) else None


# --- storing -----------------------------------------------------------------------------------


def _stored_calls(ctx: RunContext, step_key: str) -> dict[str, Any]:
    """The calls of this node execution a previous attempt stored, by key."""
    with ctx.session_factory() as session:
        found = steps.nested_steps(session, ctx.run_id, step_key + "/")
        for step in found:
            session.expunge(step)
        return {str(step.step_key): step for step in found}


def _store(
    ctx: RunContext,
    node: LLMNode,
    key: str,
    step_input: dict[str, Any],
    turn: Usage,
    started_at: datetime,
    latency_ms: float,
    *,
    result: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
    state: str | None = None,
) -> None:
    """Store one call's step (through the steps repository, like every step); then honour
    a cancel, as the node steps do."""
    with session_scope(ctx.session_factory) as session:
        step = steps.record(
            session,
            ctx.run_id,
            node=node.id,
            step_key=key,
            kind=TOOL_CALL,
            state=state or (steps.FAILED if error else steps.COMPLETED),
            input=step_input,
            raw_output=None if result is None else _short(result.get("result")),
            output=result,
            provider=turn.provider if turn.prompt_tokens or turn.completion_tokens else None,
            model=turn.model if turn.prompt_tokens or turn.completion_tokens else None,
            prompt_tokens=turn.prompt_tokens,
            completion_tokens=turn.completion_tokens,
            cost=turn.cost,
            latency_ms=latency_ms,
            error_type=error[0] if error else None,
            error_message=error[1] if error else None,
            started_at=started_at,
            # Fenced like every step: a worker whose claim went stale stores no more calls.
            epoch=ctx.epoch,
        )
        cancelled = step.run.cancel_requested
    ctx.step_stored(step, cancelled, f"run {ctx.run_id} was cancelled during node {node.id}")


def _decide(
    ctx: RunContext,
    key: str,
    decision: dict[str, Any],
    *,
    result: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
    latency_ms: float = 0.0,
) -> None:
    """The waiting call's step, decided and (when approved) made."""
    with session_scope(ctx.session_factory) as session:
        waiting = steps.waiting_step(session, ctx.run_id, key)
        if waiting is None:
            return
        waiting.state = steps.FAILED if error and error[0] != "ToolCallRefused" else steps.COMPLETED
        waiting.output = {**(result or {}), "decision": decision}
        waiting.raw_output = None if result is None else _short(result.get("result"))
        if error is not None:
            waiting.error_type, waiting.error_message = error
        waiting.latency_ms = latency_ms
        waiting.finished_at = datetime.now(UTC)


def _span(
    ctx: RunContext,
    node: LLMNode,
    key: str,
    call: ToolCall,
    started: int,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    ctx.add_span(
        SpanRecord(
            f"{node.id}/{call.name}",
            "tool",
            started,
            now_ns(),
            inputs=call.arguments if call.arguments is not None else call.arguments_text,
            outputs=result,
            attributes={"step_key": key},
            error=error,
            parent=node.id,
        )
    )


def _short(value: Any, limit: int = 20_000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
