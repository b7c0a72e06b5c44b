"""`configurable-agents mcp tools SERVER` and `validate` against the real MCP server of
tests/fakes (stdio and streamable HTTP): the tools listed with their schemas; an unknown
server, an unreachable one, an unknown tool and arguments the tool does not take reported
clearly (file:line:col for validate) with the right exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from configurable_agents.cli import main
from tests.conftest import free_port
from tests.fakes.mcp_fixtures import mcp_node, running_http_server, stdio_declaration


def workflow_file(tmp_path: Path, server: dict[str, Any], tool: str, args: dict[str, Any]) -> Path:
    node = mcp_node(tool, args, "y")
    lines = [
        "schema_version: 1",
        "name: uses-mcp",
        "state:",
        "  y: {type: str}",
        f"mcp_servers:\n  fake: {json.dumps(server)}",
        "nodes:",
        f"  - {json.dumps(node)}",
        "edges:",
        "  - {from: START, to: call}",
        "  - {from: call, to: END}",
    ]
    path = tmp_path / "uses-mcp.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with running_http_server() as url:
        yield url


def test_tools_lists_names_descriptions_and_schemas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workflow_file(tmp_path, stdio_declaration(), "add", {"a": 1, "b": 2})
    assert main(["mcp", "tools", "fake", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "add: Add two numbers.\n" in out
    assert '  input: {"type": "object", "properties": {"a": {"title": "A", "type": "number"}' in out
    assert main(["mcp", "tools", "fake", "--file", str(path), "--json"]) == 0
    listed = {tool["name"]: tool for tool in json.loads(capsys.readouterr().out)}
    assert sorted(listed) == [
        "add",
        "big",
        "count",
        "crash",
        "echo",
        "fail",
        "noop",
        "slow",
        "whoami",
    ]
    assert listed["add"]["input_schema"]["required"] == ["a", "b"]
    assert listed["add"]["output_schema"]["properties"] == {
        "total": {"title": "Total", "type": "number"}
    }


def test_tools_over_http(tmp_path: Path, http_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = workflow_file(tmp_path, {"transport": "http", "url": http_url}, "echo", {"text": "x"})
    assert main(["mcp", "tools", "fake", "--file", str(path)]) == 0
    assert "echo: Say the text back.\n" in capsys.readouterr().out


def test_tools_of_an_unknown_or_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = f"http://127.0.0.1:{free_port()}/mcp"
    path = workflow_file(tmp_path, {"transport": "http", "url": down}, "echo", {})
    assert main(["mcp", "tools", "nope", "--file", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"unknown MCP server 'nope': not declared in {path} or MCP_SERVERS_FILE; known: fake\n"
    )
    assert main(["mcp", "tools", "fake", "--file", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cannot connect to MCP server 'fake' ({down}): ")
    assert "Traceback" not in err


def test_validate_asks_the_servers(
    tmp_path: Path, http_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = workflow_file(tmp_path, stdio_declaration(), "echo", {"text": "hi"})
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == "ok: uses-mcp (1 node)\n"

    unknown = workflow_file(
        tmp_path, {"transport": "http", "url": http_url}, "ecko", {"text": "hi"}
    )
    assert main(["validate", str(unknown)]) == 2
    assert capsys.readouterr().err == (
        f"{unknown}:8:77: nodes[0].name: MCP server 'fake' has no tool 'ecko' (did you mean "
        "'echo'?); its tools: add, big, count, crash, echo, fail, noop, slow, whoami\n"
    )

    wrong_args = workflow_file(tmp_path, stdio_declaration(), "add", {"a": 1, "c": 2})
    assert main(["validate", str(wrong_args)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{wrong_args}:8:101: nodes[0].args.c: tool 'add' takes no argument 'c'; it takes: a, b",
        f"{wrong_args}:8:92: nodes[0].args: tool 'add' needs argument 'b'",
    ]

    down = f"http://127.0.0.1:{free_port()}/mcp"
    unreachable = workflow_file(tmp_path, {"transport": "http", "url": down}, "echo", {})
    assert main(["validate", str(unreachable)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"{unreachable}:8:61: nodes[0].server: cannot connect to MCP server 'fake' ({down}): "
    ), err
    # --offline checks the file alone.
    assert main(["validate", "--offline", str(unreachable)]) == 0
