"""A tool-using node's calls on the run page and its JSON twin: nested under the node's
step, with arguments, results, errors, the model turn and a link to a child run; a call
waiting for approval shows the tool and its arguments."""

from __future__ import annotations

from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from tests.unit.dashboard.conftest import store_run, store_workflow

AGENT_YAML = """\
schema_version: 1
name: solver
state:
  question: {type: str, required: true}
  answer: {type: str}
nodes:
  - id: solve
    kind: llm
    prompt: "{question}"
    output: answer
    tools: [calculator, {builtin: file_write, approve: true}, {workflow: doubler}]
edges:
  - {from: START, to: solve}
  - {from: solve, to: END}
"""

TURN = {
    "role": "assistant",
    "content": "",
    "tool_calls": [{"id": "call_0", "name": "calculator", "arguments": {"expression": "6 * 7"}}],
}


def call_step(n: int, tool: str, arguments: dict, **fields: object) -> dict:
    return {
        "node": "solve",
        "step_key": f"solve#1/tool#{n}",
        "kind": "tool_call",
        "input": {"tool": tool, "arguments": arguments, "turn": n, "assistant": TURN},
        **fields,
    }


def test_tool_calls_are_nested_under_their_node(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, AGENT_YAML)
    child_id = store_run(dashboard_database, None, state="completed", workflow_name="doubler")
    run_id = store_run(
        dashboard_database,
        workflow_id,
        state="completed",
        inputs={"question": "q"},
        steps=[
            call_step(
                1,
                "calculator",
                {"expression": "6 * 7"},
                output={"result": 42},
                raw_output="42",
                prompt_tokens=9,
            ),
            call_step(
                2,
                "file_read",
                {"path": "x"},
                state="failed",
                error_type="ToolError",
                error_message="file_read 'x': no such file in the workspace",
            ),
            {
                "node": "solve",
                "step_key": "solve#1/tool#3/child",
                "kind": "child_run",
                "input": {"workflow": "doubler", "arguments": {"n": 21}},
                "output": {"child_run_id": child_id},
            },
            call_step(
                3,
                "doubler",
                {"n": 21},
                output={"result": {"doubled": 42}, "child_run_id": child_id},
            ),
            {"node": "solve", "step_key": "solve#1", "kind": "llm", "raw_output": "42."},
        ],
    )

    page = client.get(f"/runs/{run_id}").text

    top, nested = page.split('<ol class="steps tool-calls"', 1)
    assert 'data-step="5"' in top and 'data-node="solve"' in top
    assert 'data-tool-calls="4"' in nested and "child run started" in nested
    assert 'data-step-key="solve#1/tool#1"' in nested and 'data-step-key="solve#1/tool#3"' in nested
    assert "<strong>calculator</strong>" in nested and "tool call · turn 1" in nested
    assert "&#34;expression&#34;: &#34;6 * 7&#34;" in nested or '"expression": "6 * 7"' in nested
    assert "no such file in the workspace" in nested
    assert f'href="/runs/{child_id}" data-child-run' in nested
    assert "data-model-turn" in nested

    listed = client.get(f"/api/v1/runs/{run_id}/steps").json()
    assert [(s["step_key"], s["parent_key"], s["kind"]) for s in listed] == [
        ("solve#1/tool#1", "solve#1", "tool_call"),
        ("solve#1/tool#2", "solve#1", "tool_call"),
        ("solve#1/tool#3/child", "solve#1", "child_run"),
        ("solve#1/tool#3", "solve#1", "tool_call"),
        ("solve#1", None, "llm"),
    ]
    assert listed[0]["input"]["arguments"] == {"expression": "6 * 7"}
    assert listed[3]["output"]["child_run_id"] == child_id


def test_a_call_waiting_for_approval_shows_the_tool_and_its_arguments(
    client: TestClient, dashboard_database: Database
) -> None:
    workflow_id = store_workflow(dashboard_database, AGENT_YAML)
    arguments = {"path": "notes/out.txt", "content": "hello"}
    run_id = store_run(
        dashboard_database,
        workflow_id,
        state="awaiting_approval",
        inputs={"question": "q"},
        steps=[
            call_step(
                1,
                "file_write",
                arguments,
                state="awaiting_approval",
            )
        ],
    )
    with dashboard_database.session_factory.begin() as session:
        from configurable_agents.storage.models import RunStep

        step = session.query(RunStep).filter_by(run_id=run_id).one()
        step.input = {**step.input, "message": "The model wants to call tool file_write"}

    page = client.get(f"/runs/{run_id}").text

    banner = page.split('id="approval-title"', 1)[1].split("</section>", 1)[0]
    assert "The model wants to call tool file_write" in banner
    assert "data-approval-tool>file_write</code>" in banner
    assert "notes/out.txt" in banner and ">Approve</button>" in banner
    # The waiting call stands on its own (its node's step is not stored yet).
    assert 'data-node="solve"' in page and "awaiting approval" in page
