"""Validation of a tool-using llm node's tools: names, sources, limits, with file:line:col."""

from __future__ import annotations

from configurable_agents.config.loader import load_config, validate_text

HEAD = """schema_version: 1
name: t
state:
  q: {type: str, required: true}
  a: {type: str}
nodes:
  - id: ask
    kind: llm
    prompt: "{q}"
    output: a
"""
TAIL = """edges:
  - {from: START, to: ask}
  - {from: ask, to: END}
"""


def problems(tools: str) -> list[str]:
    return [str(issue) for issue in validate_text(HEAD + tools + TAIL, "wf.yaml")]


def test_a_valid_tool_list_loads_with_every_source() -> None:
    config = load_config(
        HEAD.replace(
            "nodes:\n",
            "mcp_servers:\n  files: {transport: http, url: 'http://127.0.0.1:9/mcp'}\nnodes:\n",
        )
        + """    max_tool_calls: 4
    tools:
      - calculator
      - {builtin: file_write, approve: true}
      - {workflow: summarize, description: Summarise a text.}
      - {agent: translator.v2}
      - {mcp: files, tool: read_file}
"""
        + TAIL
    )
    node = config.nodes[0]
    assert node.max_tool_calls == 4
    assert [ref.source_kind for ref in node.tools] == [
        "builtin",
        "builtin",
        "workflow",
        "agent",
        "mcp",
    ]
    assert [ref.model_name for ref in node.tools] == [
        "calculator",
        "file_write",
        "summarize",
        "translator_v2",
        "read_file",
    ]
    assert node.tools[1].approve and not node.tools[0].approve


def test_an_unknown_builtin_is_named_with_its_place_and_a_hint() -> None:
    assert problems("    tools: [calculatr]\n") == [
        "wf.yaml:11:13: nodes[0].tools[0].builtin: unknown built-in tool 'calculatr' (did you "
        "mean 'calculator'?); the built-in tools are http_request, file_read, file_write, "
        "calculator, current_time, json_path (a stored workflow is {workflow: NAME}, a remote "
        "agent {agent: NAME}, an MCP server's tool {mcp: SERVER, tool: NAME})"
    ]


def test_every_bad_tool_is_reported_at_once() -> None:
    found = problems(
        """    tools:
      - {workflow: Bad_Name}
      - {builtin: calculator, agent: x}
      - {tool: read_file}
      - {builtin: json_path, approve: maybe}
    max_tool_calls: 0
"""
    )
    assert found[0].startswith(
        "wf.yaml:12:20: nodes[0].tools[0].workflow: 'Bad_Name' is not a valid name"
    )
    assert found[1] == (
        "wf.yaml:13:9: nodes[0].tools[1]: a tool names exactly one of builtin, workflow, agent "
        "or mcp (got builtin, agent)"
    )
    assert found[2] == (
        "wf.yaml:14:9: nodes[0].tools[2]: a tool names exactly one of builtin, workflow, agent or mcp"
    )
    assert found[3].startswith(
        "wf.yaml:15:39: nodes[0].tools[3].approve: Input should be a valid boolean"
    )
    assert found[4] == (
        "wf.yaml:16:21: nodes[0].max_tool_calls: Input should be greater than or equal to 1"
    )
    assert len(found) == 5


def test_two_tools_the_model_would_call_by_one_name_are_refused() -> None:
    assert problems("    tools: [calculator, {builtin: calculator, approve: true}]\n") == [
        "wf.yaml:7:5: nodes[0]: tools[1] (builtin calculator) has the same tool name "
        "'calculator' as tools[0]: the model could not tell them apart"
    ]


def test_an_undeclared_mcp_server_in_tools_is_named_at_its_place() -> None:
    text = HEAD.replace(
        "nodes:\n",
        'mcp_servers:\n  files: {transport: http, url: "http://127.0.0.1:9/mcp"}\nnodes:\n',
    )
    found = [
        str(issue)
        for issue in validate_text(
            text + "    tools: [{mcp: file, tool: read}, {mcp: files}]\n" + TAIL, "wf.yaml"
        )
    ]
    assert found == [
        "wf.yaml:13:19: nodes[0].tools[0].mcp: unknown MCP server 'file' (did you mean "
        "'files'?): declare it under mcp_servers (or in the file named by MCP_SERVERS_FILE)"
    ]
