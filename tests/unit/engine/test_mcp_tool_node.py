"""Fixed `tool: mcp` nodes against a real MCP server written with the SDK
(tests/fakes/mcp_server.py), reached over stdio and over streamable HTTP: the result lands
in state, the stdio server is reused by later runs and stopped with the engine, and a bad
call (unknown tool, a crash in the middle of the call, an error answer) fails the step
with a clear message and ends the run cleanly."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.config.mcp import load_servers_file, use_shared_servers
from configurable_agents.engine.runner import Engine, open_engine
from configurable_agents.mcp import pool as mcp_pool
from configurable_agents.settings import Settings
from configurable_agents.storage.models import RunState
from configurable_agents.storage.repositories import steps
from tests.fakes.mcp_fixtures import mcp_node, running_http_server, stdio_declaration
from tests.unit.engine.conftest import StoreRun


def workflow(server: dict[str, Any], tool: str, args: dict[str, Any], output: str = "sum") -> str:
    """One MCP tool node between START and END, its result in ``result`` (typed ``output``)."""
    kind = {"sum": "dict[str, float]", "text": "str"}[output]
    return json.dumps(
        {
            "schema_version": 1,
            "name": f"mcp-{tool}",
            "state": {
                "a": {"type": "float", "default": 2},
                "label": {"type": "str", "default": "x"},
                "result": {"type": kind},
            },
            "mcp_servers": {"fake": server},
            "nodes": [mcp_node(tool, args, "result")],
            "edges": [{"from": "START", "to": "call"}, {"from": "call", "to": "END"}],
        }
    )


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with running_http_server() as url:
        yield url


def server_children() -> list[psutil.Process]:
    """The fake MCP servers this test process started."""
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "mcp_server.py" in " ".join(child.cmdline()) and "stdio" in child.cmdline()
    ]


def test_stdio_tool_result_lands_in_state_and_the_server_is_reused(
    engine: Engine, store_run: StoreRun, database: Database, tmp_path: Path
) -> None:
    counter = tmp_path / "calls.txt"
    os.environ["FAKE_MCP_COUNT_FILE"] = str(counter)
    try:
        added = workflow(stdio_declaration(), "add", {"a": "{a}", "b": 40})
        first = engine.execute(store_run(added, {"a": 2}))
        assert first is not None and first.state == RunState.COMPLETED, first.error_message
        assert first.outputs["result"] == {"total": 42.0}
        with database.session_factory() as session:
            (step,) = steps.list_for_run(session, first.run_id)
            # The step shows what was asked, with the typed value rendered from state.
            assert step.input == {"server": "fake", "tool": "add", "arguments": {"a": 2.0, "b": 40}}
        started = server_children()
        assert len(started) == 1
        counted = workflow(
            stdio_declaration("FAKE_MCP_COUNT_FILE"), "count", {"label": "{label}"}, "text"
        )
        for _ in range(2):
            outcome = engine.execute(store_run(counted))
            assert outcome is not None and outcome.state == RunState.COMPLETED
        assert outcome.outputs["result"] == "2"
        assert counter.read_text().splitlines() == ["x", "x"]
        # Same declaration, same process: reused by the later run (the other one has its own).
        again = engine.execute(store_run(added, {"a": 1}))
        assert again is not None and again.outputs["result"] == {"total": 41.0}
        assert started[0] in server_children()
        assert len(server_children()) == 2
    finally:
        del os.environ["FAKE_MCP_COUNT_FILE"]


def test_servers_stop_with_the_engine(
    engine_settings: Settings, database: Database, store_run: StoreRun
) -> None:
    with open_engine(engine_settings, database.session_factory) as engine:
        outcome = engine.execute(store_run(workflow(stdio_declaration(), "add", {"a": 1, "b": 1})))
        assert outcome is not None and outcome.state == RunState.COMPLETED
        assert len(server_children()) == 1
    assert server_children() == []
    assert mcp_pool._process_pool is None


def test_http_server_named_variables_are_passed(
    engine: Engine, store_run: StoreRun, http_url: str
) -> None:
    server = {"transport": "http", "url": http_url}
    outcome = engine.execute(store_run(workflow(server, "echo", {"text": "hi {label}"}, "text")))
    assert outcome is not None and outcome.state == RunState.COMPLETED, outcome.error_message
    assert outcome.outputs["result"] == "echo: hi x"
    os.environ["FAKE_MCP_SECRET"] = "from the worker"
    try:
        passed = workflow(stdio_declaration("FAKE_MCP_SECRET"), "whoami", {}, "text")
        outcome = engine.execute(store_run(passed))
        assert outcome is not None and outcome.outputs["result"] == "from the worker"
        # Not listed under env: the server does not see it.
        withheld = workflow(stdio_declaration(), "whoami", {}, "text")
        outcome = engine.execute(store_run(withheld))
        assert outcome is not None and outcome.outputs["result"] == "<not set>"
    finally:
        del os.environ["FAKE_MCP_SECRET"]


def test_http_header_values_come_from_named_variables(engine: Engine, store_run: StoreRun) -> None:
    with running_http_server(require_header="X-Token=t0k") as url:
        server = {"transport": "http", "url": url, "secret_headers": {"X-Token": "FAKE_MCP_TOKEN"}}
        text = workflow(server, "echo", {"text": "ok"}, "text")
        missing = engine.execute(store_run(text))
        assert missing is not None and missing.state == RunState.FAILED
        assert missing.error_message == (
            "node call: MCP server 'fake': environment variable FAKE_MCP_TOKEN "
            "(for header X-Token) is not set"
        )
        os.environ["FAKE_MCP_TOKEN"] = "t0k"
        try:
            outcome = engine.execute(store_run(text))
        finally:
            del os.environ["FAKE_MCP_TOKEN"]
        assert outcome is not None and outcome.state == RunState.COMPLETED, outcome.error_message
        assert outcome.outputs["result"] == "echo: ok"


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_unknown_tool_fails_the_step_naming_the_tools(
    engine: Engine, store_run: StoreRun, database: Database, http_url: str, transport: str
) -> None:
    server = stdio_declaration() if transport == "stdio" else {"transport": "http", "url": http_url}
    outcome = engine.execute(store_run(workflow(server, "ad", {"a": 1, "b": 2})))
    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_message == (
        "node call: MCP server 'fake' has no tool 'ad' (did you mean 'add'?); "
        "its tools: add, big, count, crash, echo, fail, noop, slow, whoami"
    )
    with database.session_factory() as session:
        (step,) = steps.list_for_run(session, outcome.run_id)
        assert step.state == steps.FAILED and step.output is None


def test_error_answer_fails_the_step(engine: Engine, store_run: StoreRun) -> None:
    outcome = engine.execute(
        store_run(workflow(stdio_declaration(), "fail", {"reason": "no {label}"}, "text"))
    )
    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_message == (
        "node call: MCP tool fake/fail answered an error: Error executing tool fail: no x"
    )


def test_server_crash_mid_call_fails_the_step_and_the_next_run_starts_a_new_one(
    engine: Engine, store_run: StoreRun, database: Database
) -> None:
    crashed = engine.execute(store_run(workflow(stdio_declaration(), "crash", {}, "text")))
    assert crashed is not None and crashed.state == RunState.FAILED
    message = crashed.error_message or ""
    assert "went away during tool 'crash'" in message, message
    assert "crashing on purpose" in message  # the server's last words on stderr
    with database.session_factory() as session:
        (step,) = steps.list_for_run(session, crashed.run_id)
        assert step.state == steps.FAILED and "went away" in (step.error_message or "")
    after = engine.execute(store_run(workflow(stdio_declaration(), "add", {"a": 1, "b": 2})))
    assert after is not None and after.state == RunState.COMPLETED
    assert after.outputs["result"] == {"total": 3.0}


def test_server_that_cannot_start_fails_clearly(engine: Engine, store_run: StoreRun) -> None:
    server = {"transport": "stdio", "command": "/nonexistent/mcp-server"}
    outcome = engine.execute(store_run(workflow(server, "add", {})))
    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_message is not None
    assert outcome.error_message.startswith(
        "node call: cannot connect to MCP server 'fake' (/nonexistent/mcp-server): "
    ), outcome.error_message


def test_the_glossary_example_runs_offline(
    engine: Engine, store_run: StoreRun, database: Database
) -> None:
    outcome = engine.execute(store_run("glossary_lookup.yaml", {"term": "Lease"}))
    assert outcome is not None and outcome.state == RunState.COMPLETED, outcome.error_message
    assert outcome.outputs["definition"] == (
        "a worker's time-limited claim on a run, renewed while the run executes"
    )
    unknown = engine.execute(store_run("glossary_lookup.yaml", {"term": "banana"}))
    assert unknown is not None and unknown.state == RunState.FAILED
    assert unknown.error_message == (
        "node lookup: MCP tool glossary/define answered an error: Error executing tool define: "
        "no definition of 'banana'; known terms: checkpoint, lease, node, webhook, worker"
    )


def test_a_result_over_max_bytes_and_a_slow_tool_fail_the_step_whole(
    engine: Engine, store_run: StoreRun, database: Database
) -> None:
    # Default max_bytes: 1,000,000; the tool sends its text twice (content and structured).
    outcome = engine.execute(
        store_run(workflow(stdio_declaration(), "big", {"size": 600_000}, "text"))
    )
    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_message == (
        "node call: MCP tool fake/big answered 1200014 bytes, more than max_bytes=1000000"
    )
    with database.session_factory() as session:
        (step,) = steps.list_for_run(session, outcome.run_id)
        assert step.output is None and step.raw_output is None
    slow = json.loads(workflow(stdio_declaration(), "slow", {"seconds": 30}, "text"))
    slow["nodes"][0]["timeout"] = 0.5
    outcome = engine.execute(store_run(json.dumps(slow)))
    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_message is not None
    assert outcome.error_message.endswith("tool 'slow' gave no answer within 0.5 s")


def test_http_server_crash_mid_call_fails_the_step(engine: Engine, store_run: StoreRun) -> None:
    with running_http_server() as url:  # its own: this one dies
        server = {"transport": "http", "url": url}
        crashed = engine.execute(store_run(workflow(server, "crash", {}, "text")))
        assert crashed is not None and crashed.state == RunState.FAILED
        assert crashed.error_message == (
            f"node call: MCP server 'fake' ({url}) went away during tool 'crash' "
            "(MCPError: Connection closed)"
        )
        after = engine.execute(store_run(workflow(server, "echo", {"text": "x"}, "text")))
        assert after is not None and after.state == RunState.FAILED
        assert (after.error_message or "").startswith(
            f"node call: cannot connect to MCP server 'fake' ({url}): "
        )


def test_a_server_of_the_shared_file_serves_a_workflow_that_does_not_declare_it(
    engine: Engine, store_run: StoreRun, tmp_path: Path
) -> None:
    shared = tmp_path / "servers.yaml"
    shared.write_text(json.dumps({"mcp_servers": {"fake": stdio_declaration()}}))
    use_shared_servers(load_servers_file(shared))
    try:
        config = json.loads(workflow(stdio_declaration(), "echo", {"text": "{label}"}, "text"))
        del config["mcp_servers"]
        outcome = engine.execute(store_run(json.dumps(config)))
    finally:
        use_shared_servers({})
    assert outcome is not None and outcome.state == RunState.COMPLETED, outcome.error_message
    assert outcome.outputs["result"] == "echo: x"
