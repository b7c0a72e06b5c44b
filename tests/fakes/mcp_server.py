"""A real MCP server, written with the official SDK, for the tests and the benchmark.

    python -m tests.fakes.mcp_server stdio
    python -m tests.fakes.mcp_server http --port 8123      # streamable HTTP at /mcp

Tools: ``add`` (structured result), ``echo`` (text), ``noop`` (the benchmark's), ``slow``,
``big`` (a long text), ``count``
(appends a line to the file in FAKE_MCP_COUNT_FILE and says how many calls it has seen, so
a test counts calls on the server's side), ``crash`` (the process exits in the middle of
the call), ``whoami`` (the value of FAKE_MCP_SECRET, to check that named variables are
passed on), ``fail`` (answers with isError).
With ``--require-header NAME=VALUE`` the HTTP server refuses requests without that header.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

server = MCPServer("fake-tools", instructions="Tools for the configurable-agents tests.")


class Sum(BaseModel):
    """The sum of two numbers."""

    total: float


@server.tool(description="Add two numbers.")
def add(a: float, b: float) -> Sum:
    return Sum(total=a + b)


@server.tool(description="Say the text back.")
def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool(description="Do nothing (the benchmark's tool).")
def noop() -> str:
    return "ok"


@server.tool(description="Count the calls on the server's side.")
def count(label: str = "") -> str:
    path = Path(os.environ["FAKE_MCP_COUNT_FILE"])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{label}\n")
    return str(len(path.read_text(encoding="utf-8").splitlines()))


@server.tool(description="Exit the server process in the middle of the call.")
def crash() -> str:
    print("fake MCP server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool(description="The value of FAKE_MCP_SECRET in the server's environment.")
def whoami() -> str:
    return os.environ.get("FAKE_MCP_SECRET", "<not set>")


@server.tool(description="Answer after a while.")
async def slow(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "late"


@server.tool(description="A text of `size` characters.")
def big(size: int) -> str:
    return "x" * size


@server.tool(description="Always fails.")
def fail(reason: str = "it always fails") -> str:
    raise ToolError(reason)


class RequireHeader:
    """Refuse (401) HTTP requests that do not carry the header."""

    def __init__(self, app: ASGIApp, name: str, value: str) -> None:
        self.app, self.name, self.value = app, name.lower().encode(), value.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.name, self.value) not in scope["headers"]:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"missing header"})
            return
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--require-header", default="")
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app: ASGIApp = server.streamable_http_app()
    if args.require_header:
        name, _, value = args.require_header.partition("=")
        app = RequireHeader(app, name, value)
    print(f"fake MCP server ready on port {args.port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
