"""The workflows as MCP tools, against the real Procfile's release, dashboard and worker under
honcho, with the official SDK's client: over streamable HTTP at /mcp and over stdio from
`configurable-agents mcp serve`. Each lists the workflows, calls one, receives a progress
notification per finished step and its outputs; one of the workflows itself calls a tool of
an MCP server (the fake one of tests/fakes, over stdio, started by the worker)."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import psutil
import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.conftest import Launcher
from tests.e2e.serviceset import (
    REPO,
    ServiceSet,
    honcho_command,
    process_environment,
    settings_environment,
    write_env_file,
)
from tests.fakes.mcp_fixtures import stdio_declaration
from tests.fakes.workflows import PRICE_WORKFLOW

pytestmark = pytest.mark.e2e

PRICE = PRICE_WORKFLOW  # two calculator steps, no model


def add_through_mcp() -> str:
    """A workflow whose one node calls the fake MCP server's `add` over stdio."""
    config = {
        "schema_version": 1,
        "name": "mcp-add",
        "description": "Add two numbers with the tool of an MCP server.",
        "state": {
            "a": {"type": "float", "required": True},
            "b": {"type": "float", "required": True},
            "sum": {"type": "dict[str, float]"},
        },
        "mcp_servers": {"fake": stdio_declaration()},
        "nodes": [
            {
                "id": "add",
                "kind": "tool",
                "tool": "mcp",
                "server": "fake",
                "name": "add",
                "args": {"a": "{a}", "b": "{b}"},
                "output": "sum",
            }
        ],
        "edges": [{"from": "START", "to": "add"}, {"from": "add", "to": "END"}],
    }
    return json.dumps(config)


@pytest.fixture(scope="module")
def served(module_launcher: Launcher, tmp_path_factory: pytest.TempPathFactory) -> ServiceSet:
    """release, dashboard and worker of the Procfile, with two workflows stored."""
    data_dir = tmp_path_factory.mktemp("mcp") / "var"
    settings_env = settings_environment(data_dir, TRACKING_ENABLED="false")
    env_file = write_env_file(data_dir.parent / "mcp.env", settings_env)
    service_set = module_launcher.start(
        settings_env, honcho_command(env_file, ["release", "dashboard", "worker"])
    )
    service_set.wait_healthy(["dashboard"])
    service_set.wait_for_output(r"worker ready: ", timeout=60)
    with httpx.Client(base_url=service_set.url("dashboard"), timeout=30) as client:
        for config in (PRICE, add_through_mcp()):
            created = client.post("/api/v1/workflows", json={"config_yaml": config})
            assert created.status_code == 201, created.text
    return service_set


Session = Callable[[Client], Awaitable[Any]]


def through(server: str | StdioServerParameters, script: Session) -> Any:
    async def main() -> Any:
        async with Client(server) as client:
            return await script(client)

    return anyio.run(main)


async def list_and_call(client: Client) -> dict[str, Any]:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    listed = await client.list_tools()
    price = await client.call_tool(
        "price", {"unit": 10, "quantity": 3}, progress_callback=on_progress
    )
    added = await client.call_tool("mcp-add", {"a": 1.5, "b": 2})
    unknown = await client.call_tool("nope", {})
    return {
        "tools": {tool.name: tool for tool in listed.tools},
        "price": price,
        "progress": progress,
        "added": added,
        "unknown": unknown,
    }


def check(seen: dict[str, Any]) -> None:
    tools = seen["tools"]
    # The examples the release step seeds are tools too.
    assert {"mcp-add", "price", "invoice-total"} <= set(tools)
    assert tools["price"].input_schema["required"] == ["unit"]
    price = seen["price"]
    assert not price.is_error, price.content
    assert price.structured_content == {"gross": 36.0}
    assert seen["progress"] == [(1.0, "step multiply completed"), (2.0, "step tax completed")]
    added = seen["added"]
    assert not added.is_error, added.content
    assert added.structured_content == {"sum": {"total": 3.5}}
    assert seen["unknown"].is_error
    assert (
        seen["unknown"]
        .content[0]
        .text.startswith("unknown tool 'nope': the tools are the workflows (")
    )


def test_the_sdk_client_over_streamable_http(served: ServiceSet) -> None:
    check(through(served.url("dashboard") + "/mcp", list_and_call))


def test_the_sdk_client_over_stdio_from_mcp_serve(served: ServiceSet) -> None:
    environment = process_environment(served.settings_env)
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "configurable_agents", "mcp", "serve"],
        env=environment,
        cwd=str(REPO),
    )
    check(through(parameters, list_and_call))
    # With a worker alive, `mcp serve` hands the runs to it (the worker logs each run).
    served.wait_for_output(r"run \w+ completed", timeout=5)


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # it ended meanwhile
        return ""


def fake_servers(service_set: ServiceSet) -> list[str]:
    """Command lines of the fake MCP servers running in the set's process tree."""
    lines = [command_line(process) for process in service_set.remember()]
    return [line for line in lines if "mcp_server.py" in line]


def test_the_worker_reuses_its_stdio_server_and_stops_it_with_itself(served: ServiceSet) -> None:
    # The two tests above called mcp-add through the same worker: one server process.
    assert len(fake_servers(served)) == 1
    stopped = served.stop()
    assert stopped.returncode is not None
    assert not [p for p in stopped.left_behind if "mcp_server.py" in command_line(p)]
