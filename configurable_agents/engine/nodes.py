"""Executing one node: render, call (LLM, tool, remote agent), record the step, return the
state updates. Routing decisions (router, loop, approval) are made in compiler.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from configurable_agents.config.schema import (
    AgentNode,
    AnyNode,
    ApprovalNode,
    CalculatorNode,
    CurrentTimeNode,
    FileReadNode,
    FileWriteNode,
    HttpRequestNode,
    JsonPathNode,
    LLMNode,
    LoopNode,
    McpToolNode,
    MemoryAccess,
    ParallelNode,
    RouterNode,
)
from configurable_agents.config.templates import render_template, render_value
from configurable_agents.engine import tools
from configurable_agents.engine.agent_loop import ToolApprovalPending, run_agent_loop
from configurable_agents.engine.context import NodeFailed, RunCancelled, RunContext, now_ns
from configurable_agents.engine.remote_agents import call_remote_agent
from configurable_agents.llm.types import LLMRequest
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import memory, steps
from configurable_agents.tracking.mlflow_logger import SpanRecord

# Internal state keys (never workflow fields: field names cannot start with "_").
VISITS = "_visits"
DECISIONS = "_decisions"


@dataclass
class StepResult:
    """What one node did, as stored in its step."""

    updates: dict[str, Any]
    kind: str
    input: dict[str, Any] | None = None
    rendered_prompt: str | None = None
    raw_output: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)


def node_kind(node: AnyNode) -> str:
    return "tool" if hasattr(node, "tool") else str(node.kind)


def public_state(state: dict[str, Any]) -> dict[str, Any]:
    """The workflow's own fields, without the engine's bookkeeping."""
    return {key: value for key, value in state.items() if not key.startswith("_")}


# --- the kinds -------------------------------------------------------------------------------


def run_llm(node: LLMNode, state: dict[str, Any], ctx: RunContext) -> StepResult:

    config = ctx.config
    llm = config.effective_llm(node)
    provider = ctx.providers.get(llm, config.pricing)
    prompt = render_template(node.prompt, state)
    messages = []
    if node.system:
        messages.append({"role": "system", "content": render_template(node.system, state)})
    messages.append({"role": "user", "content": prompt})
    schema = config.structured_output_schema(node)
    response = provider.complete(
        LLMRequest(
            messages=messages,
            model=None,
            temperature=llm.temperature,
            max_tokens=llm.max_tokens,
            timeout=llm.timeout,
            json_schema=schema,
            schema_name=node.id,
            # Streams to whoever watches (see engine/live_tokens.py); None: no one can.
            on_token=ctx.tokens(node.id) if ctx.tokens is not None else None,
        )
    )
    step_input: dict[str, Any] = {"messages": messages}
    if schema is None:
        updates = {node.output_fields[0]: response.text.strip()}
    else:
        parsed = response.parsed if isinstance(response.parsed, dict) else {}
        updates = {name: parsed.get(name) for name in node.output_fields}
        # How the typed output was asked for (json_schema, json_object, grammar or text),
        # beside the request it belongs to: the step's input is already a JSON column.
        step_input["structured_output"] = response.structured_output
    return StepResult(
        updates=updates,
        kind="llm",
        input=step_input,
        rendered_prompt=prompt,
        raw_output=response.text,
        provider=response.provider,
        model=response.model,
        prompt_tokens=response.prompt_tokens,
        completion_tokens=response.completion_tokens,
        cost=response.cost,
        attributes={
            "attempts": response.attempts,
            **({"structured_output": response.structured_output} if schema else {}),
            "cost_known": response.cost_known,
            **({"cost_note": response.cost_note} if response.cost_note else {}),
        },
    )


def run_tool_using_llm(
    node: LLMNode, state: dict[str, Any], ctx: RunContext, step_key: str
) -> StepResult:
    """An llm node with tools: the agent loop (engine/agent_loop.py) to its answer."""
    loop = run_agent_loop(node, state, ctx, step_key)
    if loop.parsed is None:
        updates = {node.output_fields[0]: loop.text.strip()}
    else:
        parsed = loop.parsed if isinstance(loop.parsed, dict) else {}
        updates = {name: parsed.get(name) for name in node.output_fields}
    first = loop.messages[: 2 if node.system else 1]
    step_input: dict[str, Any] = {"messages": first, "tools": loop.tools}
    if loop.structured_output:
        step_input["structured_output"] = loop.structured_output
    usage = loop.usage
    return StepResult(
        updates=updates,
        kind="llm",
        input=step_input,
        rendered_prompt=first[-1]["content"],
        raw_output=loop.text,
        provider=usage.provider,
        model=usage.model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost=usage.cost,
        attributes={"tool_calls": loop.calls, "turns": loop.turns, "attempts": usage.attempts},
    )


def run_tool(node: AnyNode, state: dict[str, Any], ctx: RunContext) -> StepResult:

    if isinstance(node, HttpRequestNode):
        spec = ctx.config.state.get(node.output)
        result = tools.http_request(node, state, ctx.env, spec.type if spec else None)
    elif isinstance(node, FileReadNode):
        result = tools.file_read(node, state, ctx.workspace)
    elif isinstance(node, FileWriteNode):
        result = tools.file_write(node, state, ctx.workspace)
    elif isinstance(node, CalculatorNode):
        result = tools.calculator(node, state)
    elif isinstance(node, CurrentTimeNode):
        result = tools.current_time(node)
    elif isinstance(node, JsonPathNode):
        result = tools.json_path(node, state)
    elif isinstance(node, McpToolNode):
        # Imported here: the MCP SDK loads only in processes that run an MCP tool.
        from configurable_agents.mcp.node import run_mcp_node

        result = run_mcp_node(node, state, ctx)
    else:  # pragma: no cover - the schema admits no other tool
        raise TypeError(f"unknown tool node {node!r}")
    output = getattr(node, "output", None)
    updates = {output: result.value} if output else {}
    return StepResult(
        updates=updates, kind="tool", input=result.request, raw_output=_short(result.value)
    )


def run_agent(node: AgentNode, state: dict[str, Any], ctx: RunContext, step_key: str) -> StepResult:

    inputs = {name: render_value(template, state) for name, template in node.inputs.items()}
    value, attempts = call_remote_agent(
        ctx, node.agent, inputs, timeout=node.timeout, step_key=step_key
    )
    return StepResult(
        updates={node.output: value},
        kind="agent",
        input={"agent": node.agent, "inputs": inputs},
        raw_output=_short(value),
        attributes={"attempts": attempts},
    )


def run_marker(node: RouterNode | LoopNode | ParallelNode, state: dict[str, Any]) -> StepResult:
    """Routers, loops and fan-outs change no field; their step records that they ran."""
    return StepResult(updates={}, kind=str(node.kind))


def _short(value: Any, limit: int = 20_000) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


# --- memory ----------------------------------------------------------------------------------


def read_memory(access: MemoryAccess | None, ctx: RunContext) -> dict[str, Any]:
    """Memory values the node reads, as state updates applied before it runs."""
    if access is None or not access.read:
        return {}

    namespace = ctx.config.memory.namespace if ctx.config.memory else "default"
    with ctx.session_factory() as session:
        return {
            ref.field: memory.get_value(session, ctx.workflow_name, ref.key, namespace=namespace)
            for ref in access.read
        }


def write_memory(
    session: Any, access: MemoryAccess | None, state: dict[str, Any], ctx: RunContext
) -> None:
    """Store the fields the node writes to memory, in the step's own transaction."""
    if access is None or not access.write:
        return

    namespace = ctx.config.memory.namespace if ctx.config.memory else "default"
    for ref in access.write:
        memory.set_value(
            session, ctx.workflow_name, ref.key, state.get(ref.field), namespace=namespace
        )


# --- one step --------------------------------------------------------------------------------


def execute_node(
    node: AnyNode, state: dict[str, Any], ctx: RunContext, step_key: str
) -> dict[str, Any]:
    """Run a node (or reuse what a previous attempt stored) and return its state updates."""
    if step_key in ctx.previous_steps:
        return dict(ctx.previous_steps[step_key])
    # A worker whose claim went stale (frozen past its lease) stops here, before the call.
    ctx.check_claim()
    access: MemoryAccess | None = getattr(node, "memory", None)
    started, started_at, clock = now_ns(), datetime.now(UTC), time.perf_counter()
    remembered = read_memory(access, ctx)
    view = {**state, **remembered}
    try:
        if isinstance(node, LLMNode) and node.tools:
            result = run_tool_using_llm(node, view, ctx, step_key)
        elif isinstance(node, LLMNode):
            result = run_llm(node, view, ctx)
        elif isinstance(node, AgentNode):
            result = run_agent(node, view, ctx, step_key)
        elif isinstance(node, RouterNode | LoopNode | ParallelNode):
            result = run_marker(node, view)
        else:
            result = run_tool(node, view, ctx)
    except (ToolApprovalPending, RunCancelled):
        raise  # a pause or a cancel, not a failure of the node
    except Exception as error:
        latency = (time.perf_counter() - clock) * 1000
        message = str(error) or type(error).__name__
        # Model turns the failing node already paid for (the agent loop's last turns).
        spent = getattr(error, "spent", None)
        record_step(
            ctx,
            node,
            step_key,
            StepResult(
                updates={},
                kind=node_kind(node),
                provider=getattr(spent, "provider", None),
                model=getattr(spent, "model", None),
                prompt_tokens=getattr(spent, "prompt_tokens", 0),
                completion_tokens=getattr(spent, "completion_tokens", 0),
                cost=getattr(spent, "cost", 0.0),
            ),
            started_at=started_at,
            latency_ms=latency,
            error=(type(error).__name__, message),
        )
        ctx.add_span(SpanRecord(node.id, node_kind(node), started, now_ns(), error=message))
        raise NodeFailed(node.id, type(error).__name__, message) from error
    result.updates = {**remembered, **result.updates}
    latency = (time.perf_counter() - clock) * 1000
    record_step(
        ctx,
        node,
        step_key,
        result,
        started_at=started_at,
        latency_ms=latency,
        memory_state={**view, **result.updates},
        access=access,
    )
    ctx.add_span(
        SpanRecord(
            node.id,
            result.kind,
            started,
            now_ns(),
            inputs=result.input or {"prompt": result.rendered_prompt},
            outputs=result.updates,
            attributes={
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "cost_usd": result.cost,
                **({"model": result.model} if result.model else {}),
                **result.attributes,
            },
        )
    )
    return result.updates


def record_step(
    ctx: RunContext,
    node: AnyNode,
    step_key: str,
    result: StepResult,
    *,
    started_at: datetime,
    latency_ms: float,
    error: tuple[str, str] | None = None,
    memory_state: dict[str, Any] | None = None,
    access: MemoryAccess | None = None,
    state: str | None = None,
) -> None:
    """Store the finished step (and memory writes) in one transaction; then honour a cancel.

    The write is fenced by the run's claim epoch: StaleClaimError, nothing stored, when
    another claim took the run meanwhile."""

    with session_scope(ctx.session_factory) as session:
        if error is None and memory_state is not None:
            write_memory(session, access, memory_state, ctx)
        step = steps.record(
            session,
            ctx.run_id,
            node=node.id,
            step_key=step_key,
            kind=result.kind,
            state=state or (steps.FAILED if error else steps.COMPLETED),
            input=result.input,
            rendered_prompt=result.rendered_prompt,
            raw_output=result.raw_output,
            output=result.updates if error is None else None,
            provider=result.provider,
            model=result.model,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost=result.cost,
            latency_ms=latency_ms,
            error_type=error[0] if error else None,
            error_message=error[1] if error else None,
            started_at=started_at,
            epoch=ctx.epoch,
        )
        # The step's run row was just read under lock: its cancel flag is current.
        cancelled = step.run.cancel_requested
    ctx.step_stored(
        step, cancelled, None if error else f"run {ctx.run_id} was cancelled after node {node.id}"
    )


def approval_step(
    node: ApprovalNode, state: dict[str, Any], ctx: RunContext, step_key: str
) -> dict[str, Any]:
    """Pause for a person's decision (LangGraph interrupt), then record it."""
    from langgraph.types import interrupt

    if step_key in ctx.previous_steps:
        return dict(ctx.previous_steps[step_key])
    ctx.check_claim()
    message = render_template(node.message, state)
    if step_key not in ctx.waiting_steps:
        # Stored before pausing so the dashboard can show what is asked.
        record_step(
            ctx,
            node,
            step_key,
            StepResult(updates={}, kind="approval", input={"message": message}),
            started_at=datetime.now(UTC),
            latency_ms=0.0,
            state=steps.AWAITING_APPROVAL,
        )
    decision = interrupt({"node": node.id, "message": message, "step_key": step_key})
    approved = bool(decision.get("approved")) if isinstance(decision, dict) else bool(decision)
    comment = str(decision.get("comment", "")) if isinstance(decision, dict) else ""
    updates: dict[str, Any] = {DECISIONS: {node.id: "approved" if approved else "rejected"}}
    if node.feedback:
        updates[node.feedback] = comment
    with session_scope(ctx.session_factory) as session:
        steps.complete_waiting(
            session,
            ctx.run_id,
            step_key,
            output={**updates, "approved": approved, "comment": comment},
            epoch=ctx.epoch,
        )
    ctx.add_span(
        SpanRecord(
            node.id,
            "approval",
            now_ns(),
            now_ns(),
            inputs={"message": message},
            outputs={"approved": approved},
        )
    )
    return updates
