"""What a tool is to a tool-using llm node: a name, a description, a JSON Schema of its
arguments and a function that runs it. Built-in tools, stored workflows, remote agents
and MCP servers' tools all become a ``ToolSpec`` (engine/tool_catalog.py).

This module is a leaf of the engine (it imports only the run context), so that tool
sources outside it (configurable_agents/mcp) can make specs without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from configurable_agents.engine.context import RunContext


class ToolError(Exception):
    """A tool could not do what it was asked: the message goes back to the model as the
    tool's result (the run goes on)."""


class ToolUnavailableError(Exception):
    """A tool a node offers cannot be offered (unknown workflow or agent, unreachable
    server): the node's step fails with this message."""


@dataclass(frozen=True)
class ToolCallContext:
    """Where a call happens: the run, the node, and the call's stable key
    (``<node>#<visit>/tool#<n>``, the same when a resumed run gets there again)."""

    run: RunContext
    node_id: str
    call_key: str
    # What the call wants kept in its step besides the result (a child run's id ...).
    notes: dict[str, Any] = field(default_factory=dict)


Invoke = Callable[[dict[str, Any], ToolCallContext], Any]


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the model sees it and as the loop calls it.

    ``invoke`` gets arguments already checked against ``parameters`` and returns a
    JSON-able value, or raises ToolError. ``approve``: a person decides before each call.
    ``kind`` is builtin, workflow, agent or mcp; ``source`` says which one (a workflow's
    or agent's name, ``server/tool``).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    invoke: Invoke = field(repr=False, compare=False)
    approve: bool = False
    kind: str = "builtin"
    source: str = ""

    def schema(self) -> dict[str, Any]:
        """Provider-neutral description handed to the LLM layer."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}
