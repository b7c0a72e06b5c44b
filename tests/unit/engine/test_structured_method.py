"""The step record says how a typed output was produced, against a server that refuses
json_schema the way llama-cpp-python's server does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.engine.runner import Engine
from configurable_agents.storage.models import RunState
from configurable_agents.storage.repositories import steps
from tests.fakes import LLAMA_CPP_FORMATS, FakeLLMServer
from tests.unit.engine.conftest import StoreRun


@pytest.fixture
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """Overrides the conftest's server: this one refuses response_format json_schema."""
    with FakeLLMServer(response_formats=LLAMA_CPP_FORMATS) as server:
        yield server


def test_typed_step_records_its_method_and_refusal_costs_one_call(
    engine: Engine, store_run: StoreRun, database: Database, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push({"sentiment": "negative"}, "Sorry about that.")
    fake_llm_server.push({"sentiment": "positive"}, "Thank you!")
    first = store_run("sentiment_router.yaml", {"message": "The parcel came broken."})
    second = store_run("sentiment_router.yaml", {"message": "Lovely service."})

    outcomes = [engine.execute(first), engine.execute(second)]

    assert [outcome.state for outcome in outcomes] == [RunState.COMPLETED] * 2
    with database.session_factory() as session:
        records = {run: steps.list_for_run(session, run) for run in (first, second)}
    classify = [next(s for s in records[run] if s.node == "classify") for run in (first, second)]
    assert [step.input["structured_output"] for step in classify] == ["json_object"] * 2
    assert [step.output for step in classify] == [
        {"sentiment": "negative"},
        {"sentiment": "positive"},
    ]
    reply = next(s for s in records[first] if s.node == "apologize")
    assert "structured_output" not in reply.input  # a plain-text step has no method
    # One refused call in all: the second run found the method in the process's memory.
    assert len(fake_llm_server.refused) == 1
    assert len(fake_llm_server.requests) == 5
