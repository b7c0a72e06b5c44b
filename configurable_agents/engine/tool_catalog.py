"""The tools a tool-using llm node offers, resolved from its ``tools:`` list: built-ins,
stored workflows (a call is a child run), registered remote agents, MCP servers' tools.

Resolved when the node runs, so that a workflow saved or an agent registered after this
workflow was written is found; a tool that cannot be offered fails the node's step with
a message naming it.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.agent_tools import TOOL_NAME_PATTERN, ToolRef
from configurable_agents.config.interface import input_schema, output_names
from configurable_agents.config.loader import load_config
from configurable_agents.config.schema import LLMNode, WorkflowConfig
from configurable_agents.config.validate import Finding
from configurable_agents.engine.builtin_tools import BUILTIN_TOOLS
from configurable_agents.engine.context import RunContext
from configurable_agents.engine.remote_agents import RemoteAgentError, call_remote_agent
from configurable_agents.engine.toolspec import (
    ToolCallContext,
    ToolError,
    ToolSpec,
    ToolUnavailableError,
)
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import agents, steps, workflows
from configurable_agents.storage.states import RunState

AGENT_TIMEOUT = 60.0
# A child run started by a tool call: how long the call waits for it.
CHILD_RUN_TIMEOUT = 600.0


def resolve_tools(node: LLMNode, ctx: RunContext) -> list[ToolSpec]:
    """Every tool the node offers, in its order; ToolUnavailableError for one that cannot
    be offered, or when two end up with the same name."""
    specs: list[ToolSpec] = []
    for ref in node.tools:
        found = _resolve(ref, ctx)
        specs.extend(
            replace(spec, approve=spec.approve or ref.approve, description=ref.description)
            if ref.description
            else replace(spec, approve=spec.approve or ref.approve)
            for spec in found
        )
    seen: set[str] = set()
    for spec in specs:
        if not re.match(TOOL_NAME_PATTERN, spec.name):
            raise ToolUnavailableError(
                f"tool '{spec.name}' ({spec.kind} {spec.source}) has a name the model cannot "
                "call: at most 64 letters, digits, '_' or '-'"
            )
        if spec.name in seen:
            raise ToolUnavailableError(f"two tools of node {node.id} are named '{spec.name}'")
        seen.add(spec.name)
    return specs


def _resolve(ref: ToolRef, ctx: RunContext) -> list[ToolSpec]:
    if ref.builtin is not None:
        return [BUILTIN_TOOLS[ref.builtin]]
    if ref.workflow is not None:
        return [workflow_tool(ref.workflow, ctx)]
    if ref.agent is not None:
        return [agent_tool(ref.agent, ctx)]
    # MCP servers' tools (configurable_agents/mcp): imported here, when a node offers
    # them, so that the engine does not load the MCP SDK for workflows that do not.
    from configurable_agents.mcp.agent_tools import mcp_tool_specs

    try:
        return list(mcp_tool_specs(ref, ctx))
    except ToolError as error:
        raise ToolUnavailableError(str(error)) from None


# --- stored workflows ------------------------------------------------------------------------


def workflow_tool(name: str, ctx: RunContext) -> ToolSpec:
    """A stored workflow as a tool: its typed inputs are the arguments; a call runs its
    latest version as a child run and answers the child's outputs (config/interface.py)."""
    with ctx.session_factory() as session:
        workflow = workflows.get_by_name(session, name)
        version = workflows.get_version(session, workflow.id) if workflow else None
        if workflow is None or version is None:
            raise ToolUnavailableError(f"tool workflow '{name}': no stored workflow of that name")
        workflow_id, version_id, text = workflow.id, version.id, version.config_yaml
    config = load_config(text, filename=f"{name}.yaml")
    # Described as /v1 and /mcp describe it (config/interface.py): the three agree.
    parameters = input_schema(config)
    outputs = output_names(config)

    def invoke(arguments: dict[str, Any], call: ToolCallContext) -> Any:
        answered = _run_child(call, name, workflow_id, version_id, arguments) or {}
        return {key: answered.get(key) for key in outputs} if outputs else answered

    description = config.description or f"Run the workflow {name}."
    return ToolSpec(name, description, parameters, invoke, kind="workflow", source=name)


def _run_child(
    call: ToolCallContext, name: str, workflow_id: int, version_id: int, arguments: dict
) -> Any:
    ctx = call.run
    if ctx.run_child is None:
        raise ToolError(f"workflow {name}: this process cannot run child runs")
    marker_key = f"{call.call_key}/child"
    with session_scope(ctx.session_factory) as session:
        marker = steps.completed_step(session, ctx.run_id, marker_key)
        if marker is not None:
            # A previous attempt started this call's child run (and then died): the same
            # child is resumed (or its end read), never started twice.
            child_id = str((marker.output or {}).get("child_run_id"))
        else:
            child = run_lifecycle.create(
                session,
                workflow_name=name,
                workflow_id=workflow_id,
                workflow_version_id=version_id,
                inputs=arguments,
                trigger="tool",
            )
            child_id = child.id
            # Stored with the child, in one transaction: which run this call started.
            steps.record(
                session,
                ctx.run_id,
                node=call.node_id,
                step_key=marker_key,
                kind="child_run",
                input={"workflow": name, "arguments": arguments},
                output={"child_run_id": child_id},
            )
    call.notes["child_run_id"] = child_id
    # A thread of its own: the child's graph must not see this node's LangGraph context
    # (a graph invoked inside a node would be taken for a subgraph of this run).
    outcome: dict[str, Any] = {}

    def execute() -> None:
        try:
            outcome["result"] = ctx.run_child(child_id)  # type: ignore[misc]
        except Exception as error:  # reported to the model below
            outcome["error"] = f"{type(error).__name__}: {error}"

    thread = threading.Thread(target=execute, name=f"child-run-{child_id}", daemon=True)
    thread.start()
    thread.join(CHILD_RUN_TIMEOUT)
    if thread.is_alive():
        raise ToolError(
            f"workflow {name}: child run {child_id} did not end within {CHILD_RUN_TIMEOUT:g} s"
        )
    if "error" in outcome:
        raise ToolError(f"workflow {name}: child run {child_id} failed: {outcome['error']}")
    result = outcome.get("result")
    state = getattr(result, "state", None)
    if state == RunState.COMPLETED:
        return result.outputs
    if state == RunState.AWAITING_APPROVAL:
        raise ToolError(
            f"workflow {name}: child run {child_id} waits for a person's approval; "
            "a tool call cannot wait for it"
        )
    message = getattr(result, "error_message", None) or state
    raise ToolError(f"workflow {name}: child run {child_id} ended {state}: {message}")


# --- remote agents ---------------------------------------------------------------------------


def agent_tool(name: str, ctx: RunContext) -> ToolSpec:
    """A registered remote agent as a tool: its stored input schema is the arguments."""
    with ctx.session_factory() as session:
        found = [a for a in agents.list_agents(session, kind=agents.REMOTE) if a.name == name]
        if not found:
            raise ToolUnavailableError(
                f"tool agent '{name}': no remote agent of that name is registered"
            )
        schema = dict(found[-1].input_schema or {"type": "object"})
    schema.setdefault("type", "object")

    def invoke(arguments: dict[str, Any], call: ToolCallContext) -> Any:
        try:
            value, _ = call_remote_agent(
                call.run, name, arguments, timeout=AGENT_TIMEOUT, step_key=call.call_key
            )
        except RemoteAgentError as error:
            raise ToolError(str(error)) from None
        return value

    tool_name = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    return ToolSpec(
        tool_name, f"Ask the remote agent {name}.", schema, invoke, kind="agent", source=name
    )


# --- checking a config's tools before it runs ----------------------------------------------


def check_tool_refs(
    config: WorkflowConfig,
    session_factory: sessionmaker[Session] | None,
    mcp_tools: Callable[[str], set[str] | str] | None = None,
) -> list[Finding]:
    """Every tool a node offers that does not exist: a stored workflow or a registered
    remote agent missing from the database (when one is given), an MCP server that cannot
    be reached or lacks the tool (when ``mcp_tools`` lists a server's tools, or says why it
    cannot). Findings carry the path of the tool in the config, for file:line:col."""
    found: list[Finding] = []
    names: tuple[set[str], set[str]] | None = None
    if session_factory is not None:
        with session_factory() as session:
            stored = {w.name for w in workflows.list_workflows(session, limit=100_000)}
            registered = {a.name for a in agents.list_agents(session, kind=agents.REMOTE)}
        names = (stored, registered)
    listed: dict[str, set[str] | str] = {}
    for index, node in enumerate(config.nodes):
        for position, ref in enumerate(getattr(node, "tools", None) or []):
            at = ("nodes", index, "tools", position)
            if ref.workflow is not None and names is not None and ref.workflow not in names[0]:
                found.append(
                    Finding(
                        (*at, "workflow"),
                        f"no stored workflow named '{ref.workflow}'"
                        + _close(ref.workflow, names[0]),
                    )
                )
            if ref.agent is not None and names is not None and ref.agent not in names[1]:
                found.append(
                    Finding(
                        (*at, "agent"),
                        f"no remote agent named '{ref.agent}' is registered"
                        + _close(ref.agent, names[1]),
                    )
                )
            if ref.mcp is not None and mcp_tools is not None:
                if ref.mcp not in listed:
                    listed[ref.mcp] = mcp_tools(ref.mcp)
                tools = listed[ref.mcp]
                if isinstance(tools, str):
                    found.append(Finding((*at, "mcp"), tools))
                elif ref.tool is not None and ref.tool not in tools:
                    found.append(
                        Finding(
                            (*at, "tool"),
                            f"MCP server '{ref.mcp}' has no tool '{ref.tool}'"
                            + _close(ref.tool, tools)
                            + f"; its tools: {', '.join(sorted(tools)) or 'none'}",
                        )
                    )
    return found


def _close(name: str, options: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
