"""The platform against a real llama-cpp-python OpenAI-compatible server, which refuses
``response_format`` json_schema (HTTP 500, "Input should be 'text' or 'json_object'"):
workflows with typed outputs complete through the ``openai`` provider, and the chat
builder's model mode gets an answer, with the refusal costing one call and no attempt."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.builder import Builder, Gallery
from configurable_agents.builder.events import Progress
from configurable_agents.builder.generate import Generated, GenerationFailed, generate
from configurable_agents.config import input_fields, load_config
from configurable_agents.config.schema import LLMNode
from configurable_agents.engine.runner import Engine
from configurable_agents.storage.models import RunState
from configurable_agents.storage.repositories import steps
from tests.integration.llama_server.conftest import MODEL_ALIAS, LlamaServer, server_settings
from tests.unit.engine.conftest import EXAMPLES, StoreRun

# Real generation on a 135M model with grammar-constrained JSON: minutes on 2 busy cores.
pytestmark = [pytest.mark.llama_server, pytest.mark.timeout(900)]

REFUSED = 500
BUILDER_MAX_TOKENS = 160


def typed_nodes(path: Path) -> list[str]:
    """The llm nodes of a workflow whose output is typed (asked for as JSON)."""
    config = load_config(path)
    return [
        node.id
        for node in config.nodes
        if isinstance(node, LLMNode) and config.structured_output_schema(node) is not None
    ]


TYPED_EXAMPLES = [path.name for path in sorted(EXAMPLES.glob("*.yaml")) if typed_nodes(path)]
SAMPLE_INPUTS = {
    "message": "My parcel arrived broken and nobody answers my emails.",
    "topic": "owls",
}


def test_the_gallery_has_typed_examples() -> None:
    assert {"sentiment_router.yaml", "write_review_loop.yaml"} <= set(TYPED_EXAMPLES)


@pytest.mark.parametrize("example", TYPED_EXAMPLES)
def test_typed_example_completes_through_the_openai_provider(
    example: str,
    llama_server: LlamaServer,
    engine: Engine,
    store_run: StoreRun,
    database: Database,
) -> None:
    path = EXAMPLES / example
    required = [field.name for field in input_fields(load_config(path)) if field.required]
    run_id = store_run(example, {name: SAMPLE_INPUTS[name] for name in required})
    before = len(llama_server.statuses())

    outcome = engine.execute(run_id)

    assert outcome is not None
    assert outcome.state == RunState.COMPLETED, outcome.error_message
    with database.session_factory() as session:
        recorded = steps.list_for_run(session, run_id)
    typed = [step for step in recorded if step.node in typed_nodes(path)]
    assert typed, "the typed node ran"
    for step in typed:
        assert step.state == "completed"
        assert step.input["structured_output"] == "json_object"
        assert step.output and all(value is not None for value in step.output.values())
    calls = llama_server.statuses()[before:]
    # One refused json_schema call for the whole run, never retried; every other call answered.
    assert calls.count(REFUSED) == 1, calls
    assert set(calls) == {200, REFUSED}, calls


def test_builder_model_mode_spends_no_attempt_on_the_refusal(
    llama_server: LlamaServer, data_dir: Path
) -> None:
    # The model mode's own provider and generation loop; only the answer length is bounded
    # (SmolLM2-135M cannot plan: under the grammar it writes until max_tokens, minutes on
    # 2 shared cores at the builder's 4096).
    provider = Builder(server_settings(llama_server, data_dir), Gallery.load()).capable_provider()
    before = len(llama_server.statuses())

    turn = generate(
        provider,
        "Summarize a text, then translate the summary to French",
        max_attempts=1,
        max_tokens=BUILDER_MAX_TOKENS,
    )
    events, outcome = drain_generation(turn)

    calls = llama_server.statuses()[before:]
    # The refused json_schema probe, then the one attempt the builder had, answered.
    assert calls == [REFUSED, 200], calls
    assert events[0].message == f"drafting the config with openai model {MODEL_ALIAS}"
    if isinstance(outcome, Generated):
        assert outcome.attempts == 1  # validated by the builder before it is returned
    else:
        # Why not, in words the chat shows: the problems of the model's answer.
        assert isinstance(outcome, GenerationFailed)
        assert outcome.attempts == 1 and outcome.problems
        assert all(isinstance(problem, str) and problem for problem in outcome.problems)


def drain_generation(
    turn: Generator[Progress, None, Generated],
) -> tuple[list[Progress], Generated | GenerationFailed]:
    """The progress events and the result (or the failure) of a generation."""
    events: list[Progress] = []
    try:
        while True:
            events.append(next(turn))
    except StopIteration as done:
        return events, done.value
    except GenerationFailed as failure:
        return events, failure
