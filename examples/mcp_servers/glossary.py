"""A tiny MCP server for the glossary_lookup example: a glossary of this platform's words,
served over stdio with the official MCP SDK. Offline, no dependency beyond the platform's.

    python examples/mcp_servers/glossary.py      # speaks MCP on standard input/output
    configurable-agents mcp tools glossary --file examples/glossary_lookup.yaml
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

GLOSSARY = {
    "checkpoint": "a saved state of a run, so an interrupted run resumes where it stopped",
    "lease": "a worker's time-limited claim on a run, renewed while the run executes",
    "node": "one step of a workflow: a model call, a tool, a router, a loop or an approval",
    "webhook": "an HTTP request from another program that starts a run, signed with HMAC",
    "worker": "a process that takes queued runs and executes them",
}

server = MCPServer("glossary", instructions="Definitions of the words of configurable-agents.")


@server.tool(description="The definition of a term of configurable-agents.")
def define(term: str) -> str:
    definition = GLOSSARY.get(term.strip().lower())
    if definition is None:
        raise ToolError(f"no definition of {term!r}; known terms: {', '.join(sorted(GLOSSARY))}")
    return definition


@server.tool(description="Every term the glossary defines.")
def terms() -> list[str]:
    return sorted(GLOSSARY)


if __name__ == "__main__":
    server.run("stdio")
