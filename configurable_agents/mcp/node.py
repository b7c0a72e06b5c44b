"""A fixed tool node of kind ``tool: mcp``: render its arguments from state, call the tool
through the process's session pool, give the result to its output field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from configurable_agents.config.mcp import server_named
from configurable_agents.config.schema import McpToolNode
from configurable_agents.config.templates import render_value
from configurable_agents.engine.context import RunContext
from configurable_agents.engine.tools import ToolError, ToolResult
from configurable_agents.mcp.errors import McpError
from configurable_agents.mcp.pool import McpResult, process_pool


def render_args(value: Any, state: Mapping[str, Any]) -> Any:
    """The arguments with every text rendered as a template (a lone ``{field}`` keeps the
    value's type)."""
    if isinstance(value, str):
        return render_value(value, state)
    if isinstance(value, dict):
        return {key: render_args(item, state) for key, item in value.items()}
    if isinstance(value, list):
        return [render_args(item, state) for item in value]
    return value


def result_size(result: McpResult) -> int:
    """The bytes of a result's text and structured content (as JSON)."""
    size = len(result.text.encode("utf-8", errors="replace"))
    if result.structured is not None:
        size += len(json.dumps(result.structured, ensure_ascii=False, default=str).encode())
    return size


def output_value(result: McpResult, output_type: str | None) -> Any:
    """What goes to the output field: the text for a str field; otherwise the structured
    content, else the text parsed as JSON, else the text."""
    if output_type == "str" or (result.structured is None and output_type is None):
        return result.text
    if result.structured is not None:
        return result.structured
    try:
        return json.loads(result.text)
    except ValueError:
        return result.text


def run_mcp_node(node: McpToolNode, state: Mapping[str, Any], ctx: RunContext) -> ToolResult:
    """Call the node's tool; ToolError (the step fails) when the server cannot be used, has no
    such tool, goes away during the call, or the tool answers an error."""
    server = server_named(node.server, ctx.config.mcp_servers)
    label = f"MCP tool {node.server}/{node.name}"
    if server is None:
        raise ToolError(f"{label}: MCP server '{node.server}' is not declared")
    arguments = render_args(node.args, state)
    request = {"server": node.server, "tool": node.name, "arguments": arguments}
    try:
        result = process_pool().call_tool(
            node.server, server, node.name, arguments, env=ctx.env, timeout=node.timeout
        )
    except McpError as error:
        raise ToolError(str(error)) from None
    size = result_size(result)
    if size > node.max_bytes:
        # Refused whole: neither the state nor the step keeps part of it.
        raise ToolError(f"{label} answered {size} bytes, more than max_bytes={node.max_bytes}")
    if result.is_error:
        raise ToolError(f"{label} answered an error: {result.text}")
    spec = ctx.config.state.get(node.output) if node.output else None
    return ToolResult(output_value(result, spec.type if spec else None), request)
