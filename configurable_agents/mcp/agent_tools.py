"""An MCP server's tools offered to a tool-using llm node (``tools: [{mcp: files}]`` for
all of them, ``{mcp: files, tool: read}`` for one): each becomes a ToolSpec whose
arguments are the tool's input schema and whose call goes through the process's pool.

A tool answering ``isError``, a server that went away, a timeout: ToolError, so the model
reads what went wrong as the tool's result. A server that cannot be reached, or has no such
tool, when the node starts: ToolError too, which the catalog turns into a failed step.
"""

from __future__ import annotations

from typing import Any

from configurable_agents.config.agent_tools import ToolRef
from configurable_agents.config.mcp import server_named
from configurable_agents.engine.context import RunContext
from configurable_agents.engine.toolspec import ToolCallContext, ToolError, ToolSpec
from configurable_agents.mcp.errors import McpError
from configurable_agents.mcp.pool import McpTool, process_pool


def mcp_tool_specs(ref: ToolRef, ctx: RunContext) -> list[ToolSpec]:
    """The ToolSpecs of the tools ``ref`` names on its server."""
    name = str(ref.mcp)
    server = server_named(name, ctx.config.mcp_servers)
    if server is None:
        raise ToolError(f"tool mcp {name}: MCP server '{name}' is not declared")
    pool = process_pool()
    try:
        listed = {tool.name: tool for tool in pool.list_tools(name, server, env=ctx.env)}
    except McpError as error:
        raise ToolError(str(error)) from None
    if ref.tool is not None:
        if ref.tool not in listed:
            offered = ", ".join(sorted(listed)) or "none"
            raise ToolError(f"MCP server '{name}' has no tool '{ref.tool}'; its tools: {offered}")
        chosen = [listed[ref.tool]]
    else:
        chosen = [listed[tool] for tool in sorted(listed)]
    return [_spec(name, tool, ctx) for tool in chosen]


def _spec(server_name: str, tool: McpTool, ctx: RunContext) -> ToolSpec:
    server = server_named(server_name, ctx.config.mcp_servers)
    assert server is not None

    def invoke(arguments: dict[str, Any], call: ToolCallContext) -> Any:
        try:
            result = process_pool().call_tool(
                server_name, server, tool.name, arguments, env=call.run.env
            )
        except McpError as error:
            raise ToolError(str(error)) from None
        if result.is_error:
            raise ToolError(f"MCP tool {server_name}/{tool.name} answered an error: {result.text}")
        return result.value

    return ToolSpec(
        name=tool.name,
        description=tool.description or f"Tool {tool.name} of the MCP server {server_name}.",
        parameters=tool.input_schema,
        invoke=invoke,
        kind="mcp",
        source=f"{server_name}/{tool.name}",
    )
