"""What can go wrong talking MCP, as one small tree::

    McpError                     a call to an MCP server did not give a result
    ├── McpServerUnavailableError  the server cannot be started or reached (or a variable it
    │                              needs is not set)
    ├── McpServerCrashedError      the server went away during a call
    ├── McpToolNotFoundError       the server has no tool of that name
    └── McpTimeoutError            no answer within the timeout

A tool that answers with ``isError`` is not an exception here: the result says so, and each
caller decides (a fixed tool node fails its step; a tool-using node hands the text back to
its model).
"""

from __future__ import annotations


class McpError(Exception):
    """A call to an MCP server did not give a result; the message names server and tool."""


class McpServerUnavailableError(McpError):
    """The server cannot be started or reached."""


class McpServerCrashedError(McpError):
    """The server went away during a call."""


class McpToolNotFoundError(McpError):
    """The server has no tool of that name."""


class McpTimeoutError(McpError):
    """The server gave no answer within the timeout."""
