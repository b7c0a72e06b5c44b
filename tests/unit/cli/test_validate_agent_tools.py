"""`configurable-agents validate` checks that every tool a tool-using node offers exists:
stored workflows and remote agents in the database, MCP tools on their server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import FakeLLMServer, fake_llm_server  # noqa: F401
from tests.fakes.mcp_fixtures import stdio_declaration
from tests.unit.engine.cli_runs import cli, cli_env

WORKFLOW = """schema_version: 1
name: uses-tools
state:
  q: {{type: str, required: true}}
  a: {{type: str}}
mcp_servers:
  fake: {server}
nodes:
  - id: ask
    kind: llm
    prompt: "{{q}}"
    output: a
    tools:
      - {{workflow: summarise}}
      - {{agent: translator}}
      - {{mcp: fake, tool: ad}}
      - {{mcp: fake, tool: echo}}
edges:
  - {{from: START, to: ask}}
  - {{from: ask, to: END}}
"""


def test_validate_names_every_missing_tool_at_its_place(
    tmp_path: Path,
    fake_llm_server: FakeLLMServer,  # noqa: F811
) -> None:
    env = cli_env(tmp_path / "var", fake_llm_server)
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW.format(server=json.dumps(stdio_declaration())))

    result = cli("validate", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[:2] == [
        f"{path}:14:20: nodes[0].tools[0].workflow: no stored workflow named 'summarise'",
        f"{path}:15:17: nodes[0].tools[1].agent: no remote agent named 'translator' is registered",
    ]
    # The fake server's tool list grows with its tests: the hint and the start are checked.
    assert lines[2].startswith(
        f"{path}:16:27: nodes[0].tools[2].tool: MCP server 'fake' has no tool 'ad' (did you "
        "mean 'add'?); its tools: add, "
    )
    assert len(lines) == 3
    assert cli("validate", "--offline", str(path), env=env, cwd=tmp_path).returncode == 0
