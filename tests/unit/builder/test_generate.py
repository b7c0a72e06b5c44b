"""Generation by a capable provider (the tests' OpenAI-compatible server): the plan of a
new workflow and the whole config of a change, the repair loop both go through, its
visible progress, and what the user sees when it fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from configurable_agents.builder import MODE_LLM, Builder, Gallery
from configurable_agents.config import (
    ConfigError,
    WorkflowConfig,
    config_from_data,
    config_to_data,
    load_config,
)
from configurable_agents.release import EXAMPLES_DIR
from configurable_agents.settings import Settings
from tests.conftest import free_port
from tests.fakes import FakeLLMServer, Reply
from tests.unit.builder.conftest import run_turn

VALID: dict[str, Any] = {
    "schema_version": 1,
    "name": "summarize-then-french",
    "description": "Summarize a text, then translate the summary to French.",
    "state": {
        "text": {"type": "str", "required": True, "description": "The text"},
        "summary": {"type": "str"},
        "french": {"type": "str"},
    },
    "nodes": [
        {"id": "summarize", "kind": "llm", "prompt": "Summarize: {text}", "output": "summary"},
        {"id": "translate", "kind": "llm", "prompt": "To French: {summary}", "output": "french"},
    ],
    "edges": [
        {"from": "START", "to": "summarize"},
        {"from": "summarize", "to": "translate"},
        {"from": "translate", "to": "END"},
    ],
}


# The plan of the same workflow, as a capable model writes it under the plan schema.
PLAN: dict[str, Any] = {
    "name": "summarize-then-french",
    "description": "Summarize a text, then translate the summary to French.",
    "inputs": [{"name": "text", "type": "str", "description": "The text"}],
    "steps": [
        {
            "id": "summarize",
            "kind": "llm",
            "does": "summarize",
            "instruction": "Summarize the text.",
            "reads": ["text"],
            "writes": ["summary"],
        },
        {
            "id": "translate",
            "kind": "llm",
            "does": "translate",
            "instruction": "Translate the summary into French.",
            "reads": ["summary"],
            "writes": ["french"],
        },
    ],
}


def plan_reading(field: str) -> dict[str, Any]:
    """The plan, with its second step reading a field nothing writes."""
    data = json.loads(json.dumps(PLAN))
    data["steps"][1]["reads"] = [field]
    return data


def shape(config: WorkflowConfig | None) -> list[tuple[str, str, list[str]]]:
    assert config is not None
    return [(n.id, n.kind, getattr(n, "output_fields", [])) for n in config.nodes]


def invalid_graph() -> dict[str, Any]:
    """Shaped like a config, but an edge goes to a node that does not exist."""
    data = json.loads(json.dumps(VALID))
    data["edges"][1]["to"] = "translation"
    return data


def issue_count(data: dict[str, Any]) -> int:
    """How many problems the config validator finds in data."""
    with pytest.raises(ConfigError) as caught:
        config_from_data(data)
    return len(caught.value.issues)


def builder(settings: Settings) -> Builder:
    return Builder(settings, Gallery.load(), fill_budget_seconds=0)


def current() -> WorkflowConfig:
    return load_config(EXAMPLES_DIR / "summarize.yaml")


def test_a_new_workflow_is_planned_by_the_model_and_repaired_until_valid(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(plan_reading("translation"), PLAN)

    progress, result = run_turn(
        builder(openai_settings), "Summarize a text, then translate it to French"
    )

    assert result.ok and result.mode == MODE_LLM
    assert shape(result.config) == [
        ("summarize", "llm", ["summary"]),
        ("translate", "llm", ["french"]),
    ]
    assert progress[0].startswith("drafting the config with openai model fake-model")
    assert "fixing 1 error (attempt 2 of 3)" in progress
    # The validator's own words went back to the model: the plan is checked as a config.
    repair = fake_llm_server.requests[1].last_user_text
    assert "'translation' is not a state field" in repair and "That plan is not valid" in repair
    # Native constrained decoding: the plan's JSON Schema as response_format.
    response_format = fake_llm_server.requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["title"] == "Workflow plan"
    assert "valid after 2 attempts" in result.reply and "Mode: LLM" in result.reply
    assert "1. `summarize` (llm) reads `text`, writes `summary`" in result.reply


def test_text_that_is_not_json_is_repaired_like_any_other_problem(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push("Sure! Here is your workflow: {name: oops", PLAN)

    progress, result = run_turn(builder(openai_settings), "Summarize a text")

    assert result.ok and [node.id for node in result.config.nodes] == ["summarize", "translate"]  # type: ignore[union-attr]
    assert any(line.startswith("fixing") for line in progress)
    assert "not valid JSON" in fake_llm_server.requests[1].last_user_text


def test_a_plan_without_steps_is_sent_back_with_what_is_wrong(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push({"name": "empty", "steps": []}, PLAN)

    _, result = run_turn(builder(openai_settings), "Summarize a text")

    assert result.ok
    repair = fake_llm_server.requests[1].last_user_text
    assert "$.steps" in repair and "non-empty" in repair


def test_a_model_that_never_gets_it_right_keeps_the_previous_config(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(invalid_graph(), invalid_graph(), invalid_graph())
    before = current()

    progress, result = run_turn(builder(openai_settings), "add a translation step", before)

    assert not result.ok and result.restore_input
    assert result.config == before
    assert "could not produce a valid config after 3 attempts" in result.reply
    assert "I kept the previous config" in result.reply
    assert "unknown node 'translation'" in result.reply
    assert len(fake_llm_server.requests) == 3
    count = issue_count(invalid_graph())
    assert [line for line in progress if line.startswith("fixing")] == [
        f"fixing {count} errors (attempt 2 of 3)",
        f"fixing {count} errors (attempt 3 of 3)",
    ]
    # Refining sends the current config along.
    assert '"name": "summarize"' in fake_llm_server.requests[0].last_user_text


def test_a_plan_with_a_key_in_it_is_sent_back(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    leaky = json.loads(json.dumps(PLAN))
    leaky["steps"][0]["instruction"] = "Use key sk-live1234567890abcdefXYZ to summarize."
    fake_llm_server.push(leaky, PLAN)

    _, result = run_turn(builder(openai_settings), "Summarize a text")

    assert result.ok and "sk-live" not in json.dumps(config_to_data(result.config))  # type: ignore[arg-type]
    assert "looks like an API key" in fake_llm_server.requests[1].last_user_text


def test_an_unreachable_endpoint_says_which_and_what_to_fix(data_dir) -> None:  # type: ignore[no-untyped-def]
    from configurable_agents.settings import load_settings

    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = load_settings(
        data_dir=data_dir, llm_provider="openai", llm_model="m", llm_base_url=url, llm_timeout=5
    )
    before = current()

    _, result = run_turn(builder(settings), "Summarize a text", before)

    assert not result.ok and result.restore_input
    assert result.config == before
    assert f"{url}/chat/completions" in result.reply
    assert "LLM_BASE_URL" in result.reply
    assert "Nothing you typed is lost" in result.reply


def test_the_offline_mode_can_be_chosen_with_a_capable_provider(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    chosen = builder(openai_settings)
    assert [mode.name for mode in chosen.modes()] == ["llm", "offline"]

    _, result = run_turn(
        chosen, "Summarize a text, then translate the summary to German", mode="offline"
    )

    assert result.ok and result.mode == "offline"
    assert fake_llm_server.requests == []


def test_a_server_error_status_is_reported_with_the_endpoint(
    openai_settings: Settings, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(*[Reply(status=500, error="boom")] * 3)

    _, result = run_turn(builder(openai_settings), "Summarize a text")

    assert not result.ok
    assert fake_llm_server.base_url in result.reply


def test_a_missing_key_names_the_variable_to_set(
    anthropic_settings: Settings, fake_llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAT_TEST_ANTHROPIC_KEY", raising=False)

    _, result = run_turn(builder(anthropic_settings), "Summarize a text")

    assert not result.ok and result.restore_input
    assert "CHAT_TEST_ANTHROPIC_KEY" in result.reply and "LLM_API_KEY_ENV" in result.reply
    assert fake_llm_server.requests == []


def test_an_anthropic_provider_gets_the_same_checks(
    anthropic_settings: Settings, fake_llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_TEST_ANTHROPIC_KEY", "test-key-for-the-fake-server")
    fake_llm_server.push(plan_reading("translation"), PLAN)

    progress, result = run_turn(
        builder(anthropic_settings), "Summarize a text, then translate it to French"
    )

    assert result.ok and [node.id for node in result.config.nodes] == ["summarize", "translate"]  # type: ignore[union-attr]
    assert [request.path for request in fake_llm_server.requests] == ["/v1/messages"] * 2
    # No native schema on the Messages API: the schema is in the instructions.
    assert "Workflow plan" in json.dumps(fake_llm_server.requests[0].body["system"])
    assert any(line.startswith("fixing") for line in progress)
