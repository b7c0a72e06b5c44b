"""The fake MCP server of tests/fakes/mcp_server.py as the tests reach it: a stdio
declaration, or the server running over streamable HTTP in its own process.

Kept apart from the server script so that importing these helpers loads no MCP SDK.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "mcp_server.py"


def stdio_declaration(*env: str) -> dict[str, object]:
    """The ``mcp_servers`` entry that starts this server over stdio (passing ``env``)."""
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": [str(SCRIPT), "stdio"],
        "env": list(env),
    }


def mcp_node(tool: str, args: dict[str, object], output: str, node_id: str = "call") -> dict:
    """A fixed `tool: mcp` node calling ``tool`` of the server declared as ``fake``."""
    return {
        "id": node_id,
        "kind": "tool",
        "tool": "mcp",
        "server": "fake",
        "name": tool,
        "args": args,
        "output": output,
    }


@contextlib.contextmanager
def running_http_server(require_header: str = "") -> Iterator[str]:
    """This server over streamable HTTP in its own process; yields its /mcp URL."""
    port = _free_port()
    argv = [sys.executable, str(SCRIPT), "http", "--port", str(port)]
    if require_header:
        argv += ["--require-header", require_header]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the fake MCP server did not start: {error[-2000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
