"""Checks of a workflow's MCP tool nodes against the servers themselves (the `validate`
command): each server is reached, each tool exists, the arguments fit the tool's input
schema by name. Findings carry the path of the node part they concern, so the command
reports them as file:line:col like every other problem."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from configurable_agents.config.mcp import server_named
from configurable_agents.config.schema import McpToolNode, WorkflowConfig
from configurable_agents.config.validate import Finding
from configurable_agents.mcp.errors import McpError
from configurable_agents.mcp.pool import McpPool, McpTool


def check_mcp_tools(config: WorkflowConfig, pool: McpPool, env: Mapping[str, str]) -> list[Finding]:
    """Every problem of the config's MCP tool nodes that only the servers can tell."""
    found: list[Finding] = []
    listed: dict[str, dict[str, McpTool] | str] = {}
    for index, node in enumerate(config.nodes):
        if not isinstance(node, McpToolNode):
            continue
        at = ("nodes", index)
        server = server_named(node.server, config.mcp_servers)
        if server is None:
            continue  # reported by the config's own checks
        if node.server not in listed:
            try:
                tools = pool.list_tools(node.server, server, env=env)
                listed[node.server] = {tool.name: tool for tool in tools}
            except McpError as error:
                listed[node.server] = str(error)
        tools_or_problem = listed[node.server]
        if isinstance(tools_or_problem, str):
            found.append(Finding((*at, "server"), tools_or_problem))
            continue
        tool = tools_or_problem.get(node.name)
        if tool is None:
            close = difflib.get_close_matches(node.name, list(tools_or_problem), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            offered = ", ".join(sorted(tools_or_problem)) or "none"
            found.append(
                Finding(
                    (*at, "name"),
                    f"MCP server '{node.server}' has no tool '{node.name}'{hint}; "
                    f"its tools: {offered}",
                )
            )
            continue
        found.extend(_argument_findings(at, node, tool))
    return found


def _argument_findings(
    at: tuple[str | int, ...], node: McpToolNode, tool: McpTool
) -> list[Finding]:
    properties = tool.input_schema.get("properties") or {}
    required = tool.input_schema.get("required") or []
    closed = tool.input_schema.get("additionalProperties") is False or bool(properties)
    found = []
    for name in node.args:
        if closed and name not in properties:
            close = difflib.get_close_matches(name, list(properties), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            found.append(
                Finding(
                    (*at, "args", name),
                    f"tool '{node.name}' takes no argument '{name}'{hint}; "
                    f"it takes: {', '.join(properties) or 'none'}",
                    at_key=True,
                )
            )
    missing = [name for name in required if name not in node.args]
    if missing:
        found.append(
            Finding(
                (*at, "args") if node.args else at,
                f"tool '{node.name}' needs argument{'s' if len(missing) > 1 else ''} "
                + ", ".join(f"'{name}'" for name in missing),
            )
        )
    return found
