"""Tool-using llm nodes against the scripted LLM server, in both tool-calling formats:
several calls, a failing tool, bad calls from the model, approval (refused and given),
the call limit, workflows as tools; steps, nested records, costs and answers checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from string import Template
from typing import Any

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.engine.agent_loop import MAX_RESULT_BYTES
from configurable_agents.engine.runner import Engine, open_engine
from configurable_agents.queue.dispatch import Decision, decide_approval
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, RunStep
from configurable_agents.storage.repositories import agents, steps, workflows
from tests.fakes import FakeLLMServer, Reply
from tests.fakes.local_http import QuietHandler, serving
from tests.fakes.workflows import calculator_agent
from tests.unit.engine.conftest import migrated_database, scripted_settings, store_queued_run

# Prices per million tokens: every turn's tokens show up as cost.
AGENT = """
schema_version: 1
name: {name}
state:
  question: {{type: str, required: true}}
  answer: {{type: str}}
llm:
  provider: {provider}
  model: fake-model
  base_url: {base_url}
  {key}
pricing:
  fake-model: {{input: 1000, output: 2000}}
nodes:
  - id: solve
    kind: llm
    system: "You solve problems with tools."
    prompt: "{{question}}"
    output: answer
    max_tool_calls: {limit}
    tools:
      - calculator
      - current_time
      - file_read
      - {{builtin: file_write, approve: true}}
edges:
  - {{from: START, to: solve}}
  - {{from: solve, to: END}}
"""

PROVIDERS = ["openai", "anthropic"]


def agent_yaml(
    server: FakeLLMServer, provider: str, *, limit: int = 6, name: str = "solver"
) -> str:
    return AGENT.format(
        name=name,
        provider=provider,
        base_url=server.base_url if provider == "openai" else server.url,
        key="api_key_env: FAKE_ANTHROPIC_KEY" if provider == "anthropic" else "",
        limit=limit,
    )


@pytest.fixture(autouse=True)
def _anthropic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The anthropic provider sends a key; the fake server accepts any.
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "test-key")


def call(name: str, arguments: Any, id: str | None = None) -> dict[str, Any]:
    return {"name": name, "arguments": arguments, **({"id": id} if id else {})}


def all_steps(database: Database, run_id: str) -> list[RunStep]:
    with database.session_factory() as session:
        found = list(steps.list_for_run(session, run_id))
        for step in found:
            session.expunge(step)
        return found


def run_row(database: Database, run_id: str) -> Run:
    with database.session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        session.expunge(run)
        return run


def tool_results(request: Any) -> list[str]:
    """The tool results a request carried back to the model, in either format."""
    found = []
    for message in request.messages:
        if message.get("role") == "tool":
            found.append(message["content"])
        content = message.get("content")
        if isinstance(content, list):
            found += [b["content"] for b in content if b.get("type") == "tool_result"]
    return found


@pytest.mark.parametrize("provider", PROVIDERS)
def test_several_calls_a_failing_tool_then_the_answer(
    provider: str,
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
) -> None:
    fake_llm_server.push(
        Reply(
            tool_calls=[
                call("calculator", {"expression": "6 * 7"}),
                call("current_time", {"timezone": "UTC"}),
            ]
        ),
        Reply(tool_calls=[call("file_read", {"path": "missing.txt"})]),
        Reply(text="The answer is 42."),
    )
    run_id = store_run(agent_yaml(fake_llm_server, provider), {"question": "What is 6 times 7?"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed", outcome
    assert outcome.outputs == {"question": "What is 6 times 7?", "answer": "The answer is 42."}
    recorded = all_steps(database, run_id)
    assert [(s.step_key, s.kind, s.state) for s in recorded] == [
        ("solve#1/tool#1", "tool_call", "completed"),
        ("solve#1/tool#2", "tool_call", "completed"),
        ("solve#1/tool#3", "tool_call", "failed"),
        ("solve#1", "llm", "completed"),
    ]
    first, second, third, node = recorded
    assert first.input["tool"] == "calculator" and first.input["arguments"] == {
        "expression": "6 * 7"
    }
    assert first.output == {"result": 42} and first.input["turn"] == 1
    assert second.input["turn"] == 1 and second.output["result"].endswith("+00:00")
    assert third.input["turn"] == 2
    assert third.error_type == "ToolError" and "no such file" in third.error_message
    # Each model turn's tokens are stored once: on the first call it asked for, the last on
    # the node's step; the run's totals are their sum, and every turn cost something.
    assert first.prompt_tokens > 0 and second.prompt_tokens == 0 and third.prompt_tokens > 0
    assert node.prompt_tokens > 0 and node.raw_output == "The answer is 42."
    assert all(s.cost > 0 for s in (first, third, node))
    run = run_row(database, run_id)
    assert run.total_tokens == sum(s.prompt_tokens + s.completion_tokens for s in recorded)
    assert run.total_cost == pytest.approx(sum(s.cost for s in recorded))
    # The model saw each result, the tool's error as a result, in its own format.
    requests = fake_llm_server.requests
    assert len(requests) == 3
    assert tool_results(requests[1])[:1] == ["42"]
    assert "no such file" in tool_results(requests[2])[-1]
    offered = requests[0].body["tools"]
    names = [t["name"] if provider == "anthropic" else t["function"]["name"] for t in offered]
    assert names == ["calculator", "current_time", "file_read", "file_write"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_calls_from_the_model_go_back_as_errors(
    provider: str,
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
) -> None:
    bad_arguments = {"expression": 42}  # a number where the schema wants text
    turns = [
        Reply(tool_calls=[call("rm_rf", {"path": "/"})]),
        Reply(tool_calls=[call("calculator", bad_arguments)]),
        Reply(text="I could not do it."),
    ]
    if provider == "openai":  # only OpenAI sends arguments as JSON text that may not parse
        turns.insert(2, Reply(tool_calls=[call("calculator", '{"expression": ')]))
    fake_llm_server.push(*turns)
    run_id = store_run(agent_yaml(fake_llm_server, provider), {"question": "q"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed"
    calls = [s for s in all_steps(database, run_id) if s.kind == "tool_call"]
    assert [s.error_type for s in calls] == ["ToolCallRejected"] * len(calls)
    assert "no tool named 'rm_rf'" in calls[0].error_message
    assert "calculator, current_time, file_read, file_write" in calls[0].error_message
    assert "do not fit the schema of tool calculator" in calls[1].error_message
    assert "42 is not of type 'string'" in calls[1].error_message
    if provider == "openai":
        assert "must be a JSON object" in calls[2].error_message
    assert all(s.output is None for s in calls)
    assert "no tool named" in tool_results(fake_llm_server.requests[1])[-1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_call_limit_fails_the_step_saying_so(
    provider: str,
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
) -> None:
    again = Reply(tool_calls=[call("calculator", {"expression": "1 + 1"})])
    fake_llm_server.push(again, again, again)
    run_id = store_run(agent_yaml(fake_llm_server, provider, limit=2), {"question": "q"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "failed"
    assert "more than max_tool_calls=2 tool calls without answering" in (
        outcome.error_message or ""
    )
    recorded = all_steps(database, run_id)
    assert [(s.step_key, s.state) for s in recorded] == [
        ("solve#1/tool#1", "completed"),
        ("solve#1/tool#2", "completed"),
        ("solve#1", "failed"),
    ]
    # The third turn was paid for: its tokens are on the failed node step.
    assert recorded[-1].prompt_tokens > 0 and recorded[-1].cost > 0
    assert len(fake_llm_server.requests) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refused_approval_is_told_to_the_model(
    provider: str,
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
    engine_settings: Settings,
) -> None:
    fake_llm_server.push(
        Reply(tool_calls=[call("file_write", {"path": "notes/out.txt", "content": "hello"})]),
    )
    run_id = store_run(agent_yaml(fake_llm_server, provider), {"question": "write it"})

    paused = engine.execute(run_id)

    assert paused is not None and paused.state == "awaiting_approval"
    assert paused.approval is not None
    assert (
        "file_write" in paused.approval["message"] and "notes/out.txt" in paused.approval["message"]
    )
    waiting = all_steps(database, run_id)
    assert [(s.step_key, s.state) for s in waiting] == [("solve#1/tool#1", "awaiting_approval")]
    assert waiting[0].input["tool"] == "file_write"
    assert waiting[0].input["arguments"] == {"path": "notes/out.txt", "content": "hello"}

    fake_llm_server.push(Reply(text="I was not allowed to write it."))
    decide_approval(
        engine_settings,
        database.session_factory,
        run_id,
        Decision(False, "not today"),
        enqueue_run=False,
    )
    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed", outcome
    assert outcome.outputs["answer"] == "I was not allowed to write it."
    assert not (engine_settings.workspace_path / "notes" / "out.txt").exists()
    recorded = all_steps(database, run_id)
    assert [(s.step_key, s.state) for s in recorded] == [
        ("solve#1/tool#1", "completed"),
        ("solve#1", "completed"),
    ]
    assert recorded[0].error_type == "ToolCallRefused"
    assert recorded[0].output["decision"] == {"approved": False, "comment": "not today"}
    # The model was not asked again for the turn that led to the approval.
    assert len(fake_llm_server.requests) == 2
    assert (
        "a person refused this call of file_write: not today"
        in tool_results(fake_llm_server.requests[1])[0]
    )


def test_an_approved_call_runs_once(
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
    engine_settings: Settings,
) -> None:
    fake_llm_server.push(
        Reply(tool_calls=[call("file_write", {"path": "out.txt", "content": "hello"})]),
        Reply(text="Written."),
    )
    run_id = store_run(agent_yaml(fake_llm_server, "openai"), {"question": "write it"})
    assert engine.execute(run_id).state == "awaiting_approval"  # type: ignore[union-attr]

    decide_approval(
        engine_settings, database.session_factory, run_id, Decision(True), enqueue_run=False
    )
    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed"
    assert (engine_settings.workspace_path / "out.txt").read_text() == "hello"
    first = all_steps(database, run_id)[0]
    assert first.state == "completed" and first.output["result"]["bytes"] == 5
    assert first.output["decision"]["approved"] is True


CHILD = """
schema_version: 1
name: doubler
description: Doubles a number.
state:
  n: {type: int, required: true}
  doubled: {type: int}
nodes:
  - {id: double, kind: tool, tool: calculator, args: {expression: "n * 2"}, output: doubled}
edges:
  - {from: START, to: double}
  - {from: double, to: END}
"""

# One llm node answering a question with one tool: a workflow (PARENT) or an agent.
ASKING = Template("""
schema_version: 1
name: $name
state:
  question: {type: str, required: true}
  answer: {type: str}
nodes:
  - id: ask
    kind: llm
    prompt: "{question}"
    output: answer
    tools: [$tool]
edges:
  - {from: START, to: ask}
  - {from: ask, to: END}
""")

PARENT = ASKING.substitute(name="parent", tool="{workflow: doubler}")


def test_a_stored_workflow_is_a_tool_run_as_a_child_run(
    fake_llm_server: FakeLLMServer, engine: Engine, store_run: Any, database: Database
) -> None:
    store_run(CHILD, {"n": 1})  # stores the workflow (and a run of it we leave queued)
    fake_llm_server.push(
        Reply(tool_calls=[call("doubler", {"n": "x"})]),
        Reply(tool_calls=[call("doubler", {"n": 21})]),
        Reply(text="42"),
    )
    run_id = store_run(PARENT, {"question": "double 21"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed"
    offered = fake_llm_server.requests[0].body["tools"][0]["function"]
    assert offered["name"] == "doubler" and offered["description"] == "Doubles a number."
    assert offered["parameters"]["properties"]["n"]["type"] == "integer"
    bad, good = [s for s in all_steps(database, run_id) if s.kind == "tool_call"]
    assert bad.error_type == "ToolCallRejected"  # "x" is not an integer: no child run made
    child_id = good.output["child_run_id"]
    assert good.output["result"] == {"doubled": 42}  # the workflow's outputs
    child = run_row(database, child_id)
    assert child.state == "completed" and child.trigger == "tool" and child.inputs == {"n": 21}


def test_an_unknown_workflow_tool_fails_the_node_clearly(
    fake_llm_server: FakeLLMServer, engine: Engine, store_run: Any
) -> None:
    run_id = store_run(PARENT, {"question": "double 21"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "failed"
    assert (
        outcome.error_message
        == "node ask: tool workflow 'doubler': no stored workflow of that name"
    )
    assert fake_llm_server.requests == []


class _AgentHandler(QuietHandler):
    """A remote agent answering its inputs back, or 50 MB when asked for "huge"."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        inputs = body["inputs"]
        size = 50 * 1024 * 1024 if inputs.get("text") == "huge" else 0
        data = json.dumps({"outputs": "x" * size if size else {"echo": inputs}}).encode()
        self.send_body(data, "application/json")


@pytest.fixture
def remote_agent(database: Database) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AgentHandler)
    server.daemon_threads = True
    with serving(server) as url:
        with session_scope(database.session_factory) as session:
            agent = agents.register(
                session, name="echo.agent", kind=agents.REMOTE, url=url, ttl_seconds=600
            )
            agent.input_schema = {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            }
        yield url


WITH_AGENT = ASKING.substitute(name="with-agent", tool="{agent: echo.agent}")


def test_a_remote_agent_is_a_tool_and_a_50_mb_result_is_dropped_whole(
    fake_llm_server: FakeLLMServer,
    engine: Engine,
    store_run: Any,
    database: Database,
    remote_agent: str,
) -> None:
    fake_llm_server.push(
        Reply(tool_calls=[call("echo_agent", {"text": "hi"})]),
        Reply(tool_calls=[call("echo_agent", {"text": "huge"})]),
        Reply(text="done"),
    )
    run_id = store_run(WITH_AGENT, {"question": "q"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed"
    offered = fake_llm_server.requests[0].body["tools"][0]["function"]
    assert offered["name"] == "echo_agent"
    assert offered["parameters"]["required"] == ["text"]
    small, huge = [s for s in all_steps(database, run_id) if s.kind == "tool_call"]
    assert small.output == {"result": {"echo": {"text": "hi"}}}
    assert huge.state == "failed" and huge.error_type == "ToolResultTooLarge"
    assert f"more than the {MAX_RESULT_BYTES} bytes a tool result may have" in huge.error_message
    # Nothing of the 50 MB was kept, nor sent to the model.
    assert huge.output is None and huge.raw_output is None
    last = fake_llm_server.requests[-1]
    assert sum(len(json.dumps(m)) for m in last.messages) < 10_000


def test_calls_approval_and_resume_on_postgresql(
    postgres_url: str, data_dir: Any, fake_llm_server: FakeLLMServer
) -> None:
    """The same loop on PostgreSQL (its checkpointer too): a call, a call waiting for a
    person, the decision, the replay and the answer."""
    settings = scripted_settings(data_dir, fake_llm_server, database_url=postgres_url)
    with migrated_database(settings) as database:
        run_id = store_queued_run(
            database, agent_yaml(fake_llm_server, "openai"), {"question": "q"}
        )
        fake_llm_server.push(
            Reply(tool_calls=[call("calculator", {"expression": "2 + 2"})]),
            Reply(tool_calls=[call("file_write", {"path": "pg.txt", "content": "four"})]),
            Reply(text="Wrote 4."),
        )
        with open_engine(settings, database.session_factory) as engine:
            assert engine.execute(run_id).state == "awaiting_approval"  # type: ignore[union-attr]
            decide_approval(
                settings, database.session_factory, run_id, Decision(True), enqueue_run=False
            )
            outcome = engine.execute(run_id)
        assert outcome is not None and outcome.state == "completed", outcome
        assert (settings.workspace_path / "pg.txt").read_text() == "four"
        assert [(s.step_key, s.state) for s in all_steps(database, run_id)] == [
            ("solve#1/tool#1", "completed"),
            ("solve#1/tool#2", "completed"),
            ("solve#1", "completed"),
        ]
        # Three model turns in all: the replay after the decision asked nothing again.
        assert len(fake_llm_server.requests) == 3


def test_a_child_run_started_by_a_dead_attempt_is_resumed_not_started_again(
    fake_llm_server: FakeLLMServer, engine: Engine, store_run: Any, database: Database
) -> None:
    """What an attempt killed inside a workflow call leaves: the child run, and the call's
    marker naming it (stored together). The next attempt resumes that child."""
    store_run(CHILD, {"n": 1})
    run_id = store_run(PARENT, {"question": "double 21"})
    with session_scope(database.session_factory) as session:
        doubler = workflows.get_by_name(session, "doubler")
        assert doubler is not None
        version = workflows.get_version(session, doubler.id)
        assert version is not None
        child_id = run_lifecycle.create(
            session,
            workflow_name="doubler",
            workflow_id=doubler.id,
            workflow_version_id=version.id,
            inputs={"n": 21},
            trigger="tool",
        ).id
        steps.record(
            session,
            run_id,
            node="ask",
            step_key="ask#1/tool#1/child",
            kind="child_run",
            output={"child_run_id": child_id},
        )
    fake_llm_server.push(Reply(tool_calls=[call("doubler", {"n": 21})]), Reply(text="42"))

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed"
    with database.session_factory() as session:
        children = session.query(Run).filter_by(workflow_name="doubler", trigger="tool").all()
        assert [child.id for child in children] == [child_id]
        assert children[0].state == "completed"
    tool_step = next(s for s in all_steps(database, run_id) if s.kind == "tool_call")
    assert tool_step.output == {"result": {"doubled": 42}, "child_run_id": child_id}


TYPED = """
schema_version: 1
name: typed-agent
state:
  question: {type: str, required: true}
  total: {type: int}
  unit: {type: str}
nodes:
  - id: count
    kind: llm
    prompt: "{question}"
    outputs: [total, unit]
    tools: [calculator]
edges:
  - {from: START, to: count}
  - {from: count, to: END}
"""


def test_typed_outputs_after_tools_are_asked_under_the_schema(
    fake_llm_server: FakeLLMServer, engine: Engine, store_run: Any, database: Database
) -> None:
    fake_llm_server.push(
        Reply(tool_calls=[call("calculator", {"expression": "6 * 7"})]),
        Reply(text="It is 42 apples."),  # free text: not the typed answer
        {"total": 42, "unit": "apples"},
    )
    run_id = store_run(TYPED, {"question": "How many apples in 6 boxes of 7?"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "completed", outcome
    assert (outcome.outputs["total"], outcome.outputs["unit"]) == (42, "apples")
    last = fake_llm_server.requests[-1].body
    assert last["response_format"]["type"] == "json_schema" and "tools" not in last
    node = all_steps(database, run_id)[-1]
    # The answering turn and the typed one are both on the node's step.
    assert node.step_key == "count#1" and node.input["structured_output"] == "json_schema"
    first_turn = all_steps(database, run_id)[0].prompt_tokens
    assert node.prompt_tokens > first_turn


def test_a_worker_whose_claim_went_stale_stores_no_more_tool_calls(
    engine: Engine, database: Database, fake_llm_server: FakeLLMServer, store_run: Any
) -> None:
    run_id = store_run(calculator_agent(), {"question": "sum"})
    call = {"name": "calculator", "arguments": {"expression": "1 + 1"}}

    def script(request: Any) -> Reply:
        if sum(1 for message in request.messages if message.get("role") == "tool") == 1:
            # Another process takes the run over between two calls (this one had no lease).
            with session_scope(database.session_factory) as session:
                assert run_lifecycle.take_over(session, run_id, worker_id="other", lease_seconds=60)
        return Reply(tool_calls=[call])

    fake_llm_server.default = script

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == "stale"
    with database.session_factory() as session:
        stored = steps.list_for_run(session, run_id)
        run = session.get(Run, run_id)
        assert run is not None and run.worker_id == "other"
    # The first call, stored under the old claim; nothing after the take-over.
    assert [step.step_key for step in stored] == ["solve#1/tool#1"]
