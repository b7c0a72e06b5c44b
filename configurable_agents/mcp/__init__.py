"""The Model Context Protocol, both ways, with the official SDK.

- ``pool``: sessions with MCP servers (stdio and streamable HTTP), kept open per process
- ``node``: a fixed ``tool: mcp`` node
- ``agent_tools``: an MCP server's tools offered to a tool-using llm node
- ``server``: every stored workflow as an MCP tool (the dashboard's /mcp, ``mcp serve``)
- ``errors``: what can go wrong
"""
