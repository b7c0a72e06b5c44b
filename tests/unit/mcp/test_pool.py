"""The session pool against the real MCP server of tests/fakes over stdio: one process per
server for all calls and threads, a server that died while idle is started again on its
next use, and close() stops every server it started."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import psutil

from configurable_agents.config.mcp import StdioServer
from configurable_agents.mcp.pool import McpPool
from tests.fakes.mcp_fixtures import stdio_declaration

SERVER = StdioServer.model_validate(stdio_declaration())


def servers() -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "mcp_server.py" in " ".join(child.cmdline())
    ]


def test_threads_share_one_server_process_and_close_stops_it() -> None:
    pool = McpPool()
    try:
        with ThreadPoolExecutor(4) as threads:
            results = list(
                threads.map(
                    lambda n: pool.call_tool(
                        "fake", SERVER, "add", {"a": n, "b": 1}, env=os.environ
                    ),
                    range(8),
                )
            )
        assert [result.structured for result in results] == [{"total": n + 1.0} for n in range(8)]
        assert len(servers()) == 1 and pool.open_sessions() == 1
    finally:
        pool.close()
    assert servers() == []


def test_a_server_that_died_while_idle_is_started_again() -> None:
    pool = McpPool(ping_after=0.0)  # ask before every use
    try:
        assert (
            pool.call_tool("fake", SERVER, "echo", {"text": "one"}, env=os.environ).text
            == "echo: one"
        )
        (first,) = servers()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        again = pool.call_tool("fake", SERVER, "echo", {"text": "two"}, env=os.environ)
        assert again.text == "echo: two"
        (second,) = servers()
        assert second.pid != first.pid
    finally:
        pool.close()
