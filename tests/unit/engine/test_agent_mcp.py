"""A tool-using llm node calling the tools of a real MCP server (tests/fakes/mcp_server.py,
written with the official SDK), over stdio and over streamable HTTP: results, a tool's
error and a server that crashes mid-call all go back to the model; the run ends cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.engine.runner import Engine
from configurable_agents.storage.repositories import steps
from tests.fakes import FakeLLMServer, Reply
from tests.fakes.mcp_fixtures import running_http_server, stdio_declaration

WORKFLOW = """
schema_version: 1
name: mcp-agent
state:
  question: {{type: str, required: true}}
  answer: {{type: str}}
mcp_servers:
  fake: {server}
nodes:
  - id: ask
    kind: llm
    prompt: "{{question}}"
    output: answer
    tools:
      - {{mcp: fake, tool: add}}
      - {{mcp: fake, tool: fail}}
      - {{mcp: fake, tool: crash}}
      - calculator
edges:
  - {{from: START, to: ask}}
  - {{from: ask, to: END}}
"""


@pytest.fixture(params=["stdio", "http"])
def server_declaration(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "stdio":
        yield stdio_declaration()
        return
    with running_http_server() as url:
        yield {"transport": "http", "url": url}


def call(name: str, arguments: dict[str, Any]) -> Reply:
    return Reply(tool_calls=[{"name": name, "arguments": arguments}])


def test_a_tool_using_node_calls_mcp_tools(
    server_declaration: dict[str, Any],
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
) -> None:
    crashes = server_declaration["transport"] == "stdio"  # an HTTP server would stay down
    fake_llm_server.push(
        call("add", {"a": 2, "b": 40}),
        call("fail", {"reason": "no luck today"}),
        *([call("crash", {})] if crashes else []),
        Reply(text="2 + 40 is 42."),
    )
    run_id = store_run(
        WORKFLOW.format(server=json.dumps(server_declaration)), {"question": "What is 2 + 40?"}
    )

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed", outcome
    assert outcome.outputs["answer"] == "2 + 40 is 42."
    offered = {
        t["function"]["name"]: t["function"] for t in fake_llm_server.requests[0].body["tools"]
    }
    assert set(offered) == {"add", "fail", "crash", "calculator"}
    assert offered["add"]["parameters"]["required"] == ["a", "b"]
    with database.session_factory() as session:
        calls = [s for s in steps.list_for_run(session, run_id) if s.kind == "tool_call"]
        added, failed = calls[0], calls[1]
        assert added.state == "completed" and added.output["result"] == {"total": 42.0}
        assert added.input["source"] == "mcp fake/add"
        assert failed.state == "failed" and failed.error_type == "ToolError"
        assert "no luck today" in failed.error_message
        if crashes:
            crashed = calls[2]
            assert crashed.state == "failed" and crashed.output is None
            assert crashed.error_message
    # The model was told each outcome as the call's result.
    results = [
        m["content"] for m in fake_llm_server.requests[-1].messages if m.get("role") == "tool"
    ]
    assert results[0] == json.dumps({"total": 42.0})
    assert "no luck today" in results[1]
    if crashes:
        assert json.loads(results[2])["error"]
