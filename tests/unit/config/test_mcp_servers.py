"""MCP servers in the language: declared in a workflow's mcp_servers or in MCP_SERVERS_FILE,
named by `tool: mcp` nodes; every mistake reported as file:line:col: path: message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from configurable_agents.bootstrap import load_mcp_servers
from configurable_agents.config import config_to_yaml
from configurable_agents.config.errors import ConfigError
from configurable_agents.config.loader import load_config, validate_text
from configurable_agents.config.mcp import (
    HttpServer,
    StdioServer,
    load_servers_file,
    shared_servers,
    use_shared_servers,
)
from configurable_agents.settings import load_settings

HEAD = """\
schema_version: 1
name: t
state:
  x: {type: str, default: a}
  y: {type: str}
"""
ONE_NODE = """\
nodes:
  - {id: a, kind: tool, tool: mcp, server: files, name: read, args: {path: "{x}"}, output: y}
edges:
  - {from: START, to: a}
  - {from: a, to: END}
"""


@pytest.fixture(autouse=True)
def no_shared_servers() -> Iterator[None]:
    use_shared_servers({})
    yield
    use_shared_servers({})


def problems(servers: str, nodes: str = ONE_NODE) -> list[str]:
    return [str(issue) for issue in validate_text(HEAD + servers + nodes, "t.yaml")]


def test_a_declared_server_and_its_node_load() -> None:
    config = load_config(
        HEAD
        + "mcp_servers:\n"
        + "  files: {transport: stdio, command: npx, args: [-y, fs-server], env: [FS_ROOT]}\n"
        + "  web: {transport: http, url: 'https://mcp.example/mcp', secret_headers: {Authorization: WEB_TOKEN}}\n"
        + ONE_NODE
    )
    assert config.mcp_servers["files"] == StdioServer(
        transport="stdio", command="npx", args=["-y", "fs-server"], env=["FS_ROOT"]
    )
    assert isinstance(config.mcp_servers["web"], HttpServer)
    node = config.nodes[0]
    assert (node.server, node.name, node.args) == ("files", "read", {"path": "{x}"})
    assert config.mcp is True


def test_unknown_server_is_located_with_a_hint() -> None:
    assert problems("mcp_servers:\n  file: {transport: stdio, command: npx}\n") == [
        "t.yaml:9:44: nodes[0].server: unknown MCP server 'files' (did you mean 'file'?): "
        "declare it under mcp_servers (or in the file named by MCP_SERVERS_FILE)"
    ]


def test_bad_transport_fields_are_located() -> None:
    found = problems(
        "mcp_servers:\n"
        "  files: {transport: stdio, command: npx, env: [sk-abcdefghijklmnop1234567890]}\n"
        "  web: {transport: ftp, url: 'http://x'}\n"
        "  api: {transport: http, url: 'ftp://nope', command: x}\n"
        "  local: {transport: stdio}\n"
    )
    assert found == [
        "t.yaml:7:49: mcp_servers.files.env[0]: give the NAME of an environment variable "
        "(e.g. GITHUB_TOKEN), never its value; use uppercase letters, digits and '_'",
        "t.yaml:8:20: mcp_servers.web.transport: unknown MCP transport 'ftp': use one of stdio, http",
        "t.yaml:9:31: mcp_servers.api.url: url must be an http:// or https:// URL, "
        "e.g. http://127.0.0.1:8000/mcp",
        "t.yaml:9:45: mcp_servers.api.command: unknown key 'command' for this transport: stdio "
        "takes command, args, env and timeout; http takes url, secret_headers and timeout",
        "t.yaml:10:10: mcp_servers.local.command: missing required key 'command'",
    ]


def test_a_server_of_the_shared_file_is_known(tmp_path: Path) -> None:
    shared = tmp_path / "servers.yaml"
    shared.write_text("mcp_servers:\n  files:\n    transport: stdio\n    command: npx\n")
    assert problems("") != []
    load_mcp_servers("test", load_settings(data_dir=tmp_path, mcp_servers_file=shared))
    assert list(shared_servers()) == ["files"]
    assert problems("") == []


def test_a_bad_shared_file_stops_the_process_naming_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "servers.yaml"
    shared.write_text(
        "mcp_servers:\n  files:\n    transport: stdio\n    comand: npx\n  web: {transport: ws}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_servers_file(shared)
    assert [str(issue) for issue in error.value.issues] == [
        f"{shared}:3:5: mcp_servers.files.command: missing required key 'command'",
        f"{shared}:4:5: mcp_servers.files.comand: unknown key 'comand'",
        f"{shared}:5:8: mcp_servers.web.transport: transport must be one of stdio, http",
    ]
    with pytest.raises(SystemExit) as stopped:
        load_mcp_servers("worker", load_settings(data_dir=tmp_path, mcp_servers_file=shared))
    assert stopped.value.code == 2
    line = capsys.readouterr().err
    assert line.startswith(f"worker: MCP_SERVERS_FILE: {shared}:3:5: mcp_servers.files.command")


def test_servers_nodes_and_opting_out_round_trip() -> None:
    text = (
        HEAD.replace("name: t\n", "name: t\nmcp: false\n")
        + "mcp_servers:\n"
        + "  files: {transport: stdio, command: npx, args: [-y, fs], env: [FS_ROOT]}\n"
        + "  web: {transport: http, url: 'https://x.example/mcp', secret_headers: {Authorization: TOK}}\n"
        + ONE_NODE.replace('{path: "{x}"}', '{path: "{x}", n: 3, deep: [1, "{x}"]}')
    )
    config = load_config(text)
    assert config.mcp is False
    assert config.nodes[0].args == {"path": "{x}", "n": 3, "deep": [1, "{x}"]}
    assert load_config(config_to_yaml(config)) == config
