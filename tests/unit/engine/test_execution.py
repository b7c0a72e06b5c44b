"""Running workflows through the engine: steps recorded, every node kind, failures, cancel."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.engine.runner import Engine
from configurable_agents.queue.dispatch import Decision, decide_approval
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.models import Run, RunState
from configurable_agents.storage.repositories import memory, steps
from tests.fakes import FakeLLMServer, Reply
from tests.unit.engine.conftest import StoreRun

LINEAR = """
schema_version: 1
name: linear
state:
  topic: {type: str, required: true}
  outline: {type: str}
  article: {type: str}
nodes:
  - {id: outline, kind: llm, prompt: "Outline an article about {topic}.", output: outline}
  - {id: write, kind: llm, prompt: "Write it: {outline}", output: article}
edges:
  - {from: START, to: outline}
  - {from: outline, to: write}
  - {from: write, to: END}
"""


def step_rows(database: Database, run_id: str) -> list[tuple[str, str]]:
    with database.session_factory() as session:
        return [(step.node, step.state) for step in steps.list_for_run(session, run_id)]


def load_run(database: Database, run_id: str) -> Run:
    with database.session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run


def test_linear_run_records_every_step(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(
        Reply(text="1. intro 2. body", prompt_tokens=11, completion_tokens=5),
        Reply(text="A fine article.", prompt_tokens=20, completion_tokens=4),
    )
    run_id = store_run(LINEAR, {"topic": "owls {and} braces"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == RunState.COMPLETED
    assert outcome.outputs == {
        "topic": "owls {and} braces",
        "outline": "1. intro 2. body",
        "article": "A fine article.",
    }
    # The state value with braces was inserted verbatim, not treated as a template.
    assert (
        fake_llm_server.requests[0].last_user_text == "Outline an article about owls {and} braces."
    )
    with database.session_factory() as session:
        first, second = steps.list_for_run(session, run_id)
        run = session.get(Run, run_id)
    assert (first.node, first.seq, first.step_key) == ("outline", 1, "outline#1")
    assert first.rendered_prompt == "Outline an article about owls {and} braces."
    assert (first.prompt_tokens, first.completion_tokens) == (11, 5)
    assert first.output == {"outline": "1. intro 2. body"}
    assert first.latency_ms > 0 and first.provider == "openai" and first.model == "fake-model"
    assert second.raw_output == "A fine article."
    assert run is not None and run.total_tokens == 40 and run.attempts == 1
    assert run.tracking_status == "off (TRACKING_ENABLED=false)"


@pytest.mark.parametrize(
    ("example", "inputs", "expected_nodes"),
    [
        ("summarize.yaml", {"text": "Owls hunt at night."}, ["summarize"]),
        ("translate_summary.yaml", {"text": "Owls hunt at night."}, ["summarize", "translate"]),
        ("invoice_total.yaml", {"price": 2.5, "quantity": 4}, None),
        ("pros_and_cons.yaml", None, None),
        ("sentiment_router.yaml", None, None),
        ("daily_digest.yaml", None, None),
        ("agent_with_tools.yaml", {"question": "What is 15% of 240?"}, ["solve"]),
    ],
)
def test_examples_complete(
    engine: Engine,
    store_run: StoreRun,
    database: Database,
    example: str,
    inputs: dict | None,
    expected_nodes: list[str] | None,
) -> None:
    from configurable_agents.config import input_fields, load_config

    config = load_config(Path("examples") / example)
    samples = {field.name: _sample(field.type) for field in input_fields(config) if field.required}
    run_id = store_run(example, {**samples, **(inputs or {})})

    outcome = engine.execute(run_id)

    assert outcome is not None
    assert outcome.state == RunState.COMPLETED, outcome.error_message
    nodes = [node for node, state in step_rows(database, run_id) if state == "completed"]
    if expected_nodes is not None:
        assert nodes == expected_nodes
    assert nodes, "a completed run has steps"


def _sample(type_name: str) -> object:
    return {"int": 3, "float": 2.5, "bool": True}.get(type_name, "Owls are birds of prey.")


def test_loop_stops_at_its_bound(engine: Engine, store_run: StoreRun, database: Database) -> None:
    # The fake answers score 0 for every review: the loop runs its 3 rounds and stops.
    run_id = store_run("write_review_loop.yaml", {"topic": "owls"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == RunState.COMPLETED
    assert [node for node, _ in step_rows(database, run_id)].count("write") == 3


def test_router_follows_the_condition(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    config = """
schema_version: 1
name: routed
state:
  text: {type: str, required: true}
  score: {type: int}
  reply: {type: str}
nodes:
  - {id: rate, kind: llm, prompt: "Rate {text}", output: score}
  - id: route
    kind: router
    routes: [{when: {field: score, op: gte, value: 7}, to: praise}]
    default: complain
  - {id: praise, kind: llm, prompt: "Praise {text}", output: reply}
  - {id: complain, kind: llm, prompt: "Complain about {text}", output: reply}
edges:
  - {from: START, to: rate}
  - {from: rate, to: route}
  - {from: praise, to: END}
  - {from: complain, to: END}
"""
    fake_llm_server.push({"score": 9}, "Lovely!")
    high = store_run(config, {"text": "cake"})
    assert engine.execute(high).state == RunState.COMPLETED  # type: ignore[union-attr]
    fake_llm_server.push({"score": 2}, "Meh.")
    low = store_run(config, {"text": "cake"})
    assert engine.execute(low).outputs["reply"] == "Meh."  # type: ignore[union-attr]

    assert [node for node, _ in step_rows(database, high)] == ["rate", "route", "praise"]
    assert [node for node, _ in step_rows(database, low)] == ["rate", "route", "complain"]


def test_failing_llm_fails_the_run_with_the_reason(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(*[Reply(status=400, error="model not found") for _ in range(3)])
    run_id = store_run(LINEAR, {"topic": "owls"})

    outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_message is not None and outcome.error_message.startswith("node outline:")
    assert "model not found" in outcome.error_message
    with database.session_factory() as session:
        [step] = steps.list_for_run(session, run_id)
    assert (
        step.state == "failed"
        and step.error_type
        and "model not found" in (step.error_message or "")
    )


def test_missing_input_fails_clearly(engine: Engine, store_run: StoreRun) -> None:
    outcome = engine.execute(store_run(LINEAR, {}))
    assert outcome is not None and outcome.state == RunState.FAILED
    assert outcome.error_type == "InvalidInputsError" and "topic" in (outcome.error_message or "")


def test_cancel_stops_before_the_next_step(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(Reply(text="slow outline", delay=1.0))
    run_id = store_run(LINEAR, {"topic": "owls"})

    def cancel_while_running() -> None:
        while load_run(database, run_id).state != RunState.RUNNING:
            time.sleep(0.02)
        with database.session_factory() as session:
            run_lifecycle.request_cancel(session, session.get(Run, run_id))  # type: ignore[arg-type]
            session.commit()

    canceller = threading.Thread(target=cancel_while_running)
    canceller.start()
    outcome = engine.execute(run_id)
    canceller.join()

    assert outcome is not None and outcome.state == RunState.CANCELLED
    assert step_rows(database, run_id) == [("outline", "completed")]
    assert len(fake_llm_server.requests) == 1


def test_approval_pauses_then_continues_in_a_new_engine(
    engine: Engine,
    engine_settings: Settings,
    store_run: StoreRun,
    database: Database,
    fake_llm_server: FakeLLMServer,
) -> None:
    from configurable_agents.engine.runner import open_engine

    fake_llm_server.push("Owls are coming.", "Owls are coming, revised.")
    run_id = store_run("draft_with_approval.yaml", {"subject": "owls"})

    paused = engine.execute(run_id)
    assert paused is not None and paused.state == RunState.AWAITING_APPROVAL
    assert "Owls are coming." in paused.approval["message"]  # type: ignore[index]

    decide_approval(
        engine_settings,
        database.session_factory,
        run_id,
        Decision(False, "shorter"),
        enqueue_run=False,
    )
    # A new engine and checkpointer connection: as after a restart.
    with open_engine(engine_settings, database.session_factory) as restarted:
        again = restarted.execute(run_id)
    assert again is not None and again.state == RunState.AWAITING_APPROVAL
    decide_approval(
        engine_settings, database.session_factory, run_id, Decision(True), enqueue_run=False
    )
    with open_engine(engine_settings, database.session_factory) as restarted:
        done = restarted.execute(run_id)

    assert done is not None and done.state == RunState.COMPLETED, done.error_message
    # The rejection's comment reached the revision; the approval left no comment.
    assert "Reviewer's comment: shorter" in fake_llm_server.requests[1].last_user_text
    assert done.outputs["feedback"] == ""  # type: ignore[index]
    saved = engine_settings.workspace_path / "announcements" / "latest.md"
    assert saved.read_text() == "Owls are coming, revised.\n"
    assert [node for node, _ in step_rows(database, run_id)] == [
        "draft",
        "approve",
        "revise",
        "approve",
        "save",
    ]


def test_memory_persists_across_runs(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    config = """
schema_version: 1
name: remembering
state:
  topic: {type: str, required: true}
  last: {type: str}
  idea: {type: str}
memory:
  keys:
    last_idea: {type: str}
nodes:
  - id: think
    kind: llm
    prompt: "New idea about {topic}, unlike: {last}"
    output: idea
    memory:
      read: [{key: last_idea, field: last}]
      write: [{key: last_idea, field: idea}]
edges:
  - {from: START, to: think}
  - {from: think, to: END}
"""
    fake_llm_server.push("first idea", "second idea")
    engine.execute(store_run(config, {"topic": "owls"}))
    engine.execute(store_run(config, {"topic": "owls"}))

    assert fake_llm_server.requests[0].last_user_text == "New idea about owls, unlike: "
    assert fake_llm_server.requests[1].last_user_text == "New idea about owls, unlike: first idea"
    with database.session_factory() as session:
        assert memory.get_value(session, "remembering", "last_idea") == "second idea"


def test_workflow_prices_set_the_step_cost(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    priced = LINEAR.replace(
        "name: linear", "name: priced\npricing:\n  fake-model: {input: 1.0, output: 2.0}"
    )
    fake_llm_server.push(
        Reply(text="outline", prompt_tokens=1000, completion_tokens=500),
        Reply(text="article", prompt_tokens=1000, completion_tokens=500),
    )

    outcome = engine.execute(store_run(priced, {"topic": "owls"}))

    assert outcome is not None and outcome.state == RunState.COMPLETED, outcome.error_message
    with database.session_factory() as session:
        run = session.get(Run, outcome.run_id)
    # Dollars per million tokens: 1000 in at $1 plus 500 out at $2, twice.
    assert run is not None and run.total_cost == pytest.approx(0.004)
