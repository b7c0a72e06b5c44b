"""The stored workflows as MCP tools, through the official SDK's client connected to the
server in this process; runs execute on an engine of this process (`mcp serve --runs here`):
the listing (schemas, opting out), a call with a progress notification per step and the
outputs, and what a caller is told about bad arguments, an unknown tool and a failed run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client

from configurable_agents.bootstrap import Database
from configurable_agents.mcp.local_runs import RunStarter
from configurable_agents.mcp.server import WorkflowTools, build_server
from configurable_agents.settings import Settings
from tests.fakes.workflows import PRICE_WORKFLOW
from tests.unit.mcp.conftest import save_workflow

PRICE = PRICE_WORKFLOW  # two calculator steps, no model
HIDDEN = """\
schema_version: 1
name: hidden
mcp: false
state:
  x: {type: float, required: true}
  y: {type: float}
nodes:
  - {id: double, kind: tool, tool: calculator, args: {expression: "x * 2"}, output: y}
edges:
  - {from: START, to: double}
  - {from: double, to: END}
"""
BROKEN = PRICE.replace("name: price", "name: broken").replace("unit * quantity", "unit / 0")


@pytest.fixture
def tools(mcp_settings: Settings, mcp_database: Database) -> Iterator[WorkflowTools]:
    for text, name in ((PRICE, "price"), (HIDDEN, "hidden"), (BROKEN, "broken")):
        save_workflow(mcp_database, text, name)
    with RunStarter(mcp_settings, mcp_database.session_factory, mode="here") as starter:
        yield WorkflowTools(mcp_settings, mcp_database.session_factory, start=starter.start)


def session(tools: WorkflowTools, script: Any) -> Any:
    async def main() -> Any:
        async with Client(build_server(tools)) as client:
            return await script(client)

    return anyio.run(main)


def test_every_workflow_but_the_opted_out_is_a_tool_with_typed_schemas(
    tools: WorkflowTools,
) -> None:
    listed = session(tools, lambda client: client.list_tools())
    by_name = {tool.name: tool for tool in listed.tools}
    assert sorted(by_name) == ["broken", "price"]
    price = by_name["price"]
    assert price.description == "The price of an order with tax."
    assert price.input_schema == {
        "type": "object",
        "properties": {
            "unit": {"type": "number", "description": "Price of one item"},
            "quantity": {"type": "integer", "default": 1},
        },
        "required": ["unit"],
        "additionalProperties": False,
    }
    assert price.output_schema == {
        "type": "object",
        "properties": {"gross": {"anyOf": [{"type": "number"}, {"type": "null"}]}},
    }


def test_a_call_runs_the_workflow_with_progress_per_step_and_answers_its_outputs(
    tools: WorkflowTools,
) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async def call(client: Client) -> Any:
        return await client.call_tool(
            "price", {"unit": 10, "quantity": 3}, progress_callback=on_progress
        )

    result = session(tools, call)
    assert not result.is_error, result.content
    assert result.structured_content == {"gross": 36.0}
    assert result.content[0].text == '{"gross": 36.0}'
    assert progress == [(1.0, "step multiply completed"), (2.0, "step tax completed")]


def test_bad_arguments_unknown_tool_and_a_failed_run_answer_errors(tools: WorkflowTools) -> None:
    async def calls(client: Client) -> list[Any]:
        return [
            await client.call_tool("price", {"unit": "ten"}),
            await client.call_tool("price", {"quantity": 2}),
            await client.call_tool("hidden", {"x": 1}),
            await client.call_tool("broken", {"unit": 1}),
        ]

    wrong_type, missing, hidden, failed = session(tools, calls)
    for result in (wrong_type, missing, hidden, failed):
        assert result.is_error
    assert wrong_type.content[0].text.startswith("workflow price: invalid arguments: input 'unit'")
    assert missing.content[0].text == (
        "workflow price: invalid arguments: missing required input 'unit' (float)"
    )
    assert hidden.content[0].text == (
        "unknown tool 'hidden': the tools are the workflows (broken, price)"
    )
    text = failed.content[0].text
    assert text.startswith("run ") and " of broken failed: " in text and "node multiply" in text


def test_auto_runs_here_when_no_worker_is_alive(
    mcp_settings: Settings, mcp_database: Database
) -> None:
    save_workflow(mcp_database, PRICE, "price")
    settings = mcp_settings.model_copy(update={"mcp_call_timeout_seconds": 20.0})
    with RunStarter(settings, mcp_database.session_factory, mode="auto") as starter:
        assert starter.describe() == (
            "runs go to the workers when one is alive, else execute in this process"
        )
        tools = WorkflowTools(settings, mcp_database.session_factory, start=starter.start)
        result = session(tools, lambda client: client.call_tool("price", {"unit": 2}))
    assert not result.is_error, result.content
    assert result.structured_content == {"gross": 2.4}


APPROVED = """\
schema_version: 1
name: approved
state:
  unit: {type: float, required: true}
  gross: {type: float}
nodes:
  - {id: tax, kind: tool, tool: calculator, args: {expression: "unit * 1.2"}, output: gross}
  - {id: check, kind: approval, message: "Charge {gross}?"}
edges:
  - {from: START, to: tax}
  - {from: tax, to: check}
  - {from: check, to: END}
"""


def test_a_run_waiting_for_approval_answers_where_to_decide(
    mcp_settings: Settings, mcp_database: Database
) -> None:
    save_workflow(mcp_database, APPROVED, "approved")
    with RunStarter(mcp_settings, mcp_database.session_factory, mode="here") as starter:
        tools = WorkflowTools(mcp_settings, mcp_database.session_factory, start=starter.start)
        result = session(tools, lambda client: client.call_tool("approved", {"unit": 1}))
    assert result.is_error
    text = result.content[0].text
    run_id = text.split()[1]
    assert text == (
        f"run {run_id} of approved waits for a person's approval: decide at "
        f"http://127.0.0.1:7861/runs/{run_id}"
    )
