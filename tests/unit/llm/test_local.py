"""The local provider on the real embedded SmolLM2 model (few, short generations)."""

from __future__ import annotations

import threading

import pytest

from configurable_agents.llm import (
    LLMRequest,
    LLMStructuredOutputError,
    LLMTimeoutError,
    get_provider,
)
from configurable_agents.llm.local import LocalProvider
from configurable_agents.llm.structured import validation_errors

PROMPT = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Summarise in one line: The cat sat on the mat all day long."},
]
SUMMARY = {
    "type": "object",
    "properties": {"summary": {"type": "string"}},
    "required": ["summary"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def local() -> LocalProvider:
    provider = get_provider("local", n_threads=2)
    assert isinstance(provider, LocalProvider)
    return provider


def test_short_completion_has_text_and_token_counts(local: LocalProvider) -> None:
    response = local.complete(LLMRequest(messages=PROMPT, max_tokens=32, temperature=0))

    assert response.text.strip()
    assert response.prompt_tokens > 10
    assert 0 < response.completion_tokens <= 32
    assert (response.cost, response.cost_known, response.cost_note) == (
        0.0,
        True,
        "local model, no cost",
    )
    assert (response.provider, response.model) == ("local", "SmolLM2-135M-Instruct")


def test_schema_constrained_output_parses_and_validates(local: LocalProvider) -> None:
    response = local.complete(
        LLMRequest(messages=PROMPT, max_tokens=64, temperature=0, json_schema=SUMMARY)
    )

    assert isinstance(response.parsed, dict)
    assert validation_errors(response.parsed, SUMMARY) == []
    assert response.parsed["summary"].strip()
    assert response.attempts == 1


def test_streaming_gives_the_same_answer_piece_by_piece(local: LocalProvider) -> None:
    request = LLMRequest(messages=PROMPT, max_tokens=24, temperature=0)
    whole = local.complete(request)
    pieces: list[str] = []

    streamed = local.complete(
        LLMRequest(messages=PROMPT, max_tokens=24, temperature=0, on_token=pieces.append)
    )

    assert len(pieces) > 1
    assert "".join(pieces) == streamed.text == whole.text
    assert streamed.prompt_tokens == whole.prompt_tokens
    assert streamed.completion_tokens == whole.completion_tokens


def test_the_model_is_loaded_once_per_process(local: LocalProvider) -> None:
    other = get_provider("local", n_threads=2)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(other.loaded.llama)) for _ in range(4)]  # type: ignore[attr-defined]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == [local.loaded.llama] * 4


def test_a_generation_past_its_timeout_stops(local: LocalProvider) -> None:
    # Evaluating the prompt alone takes longer than a millisecond.
    with pytest.raises(LLMTimeoutError, match=r"did not finish within 0\.001 s"):
        local.complete(LLMRequest(messages=PROMPT, max_tokens=200, timeout=0.001))


def test_a_schema_without_a_grammar_still_gets_json(local: LocalProvider) -> None:
    # llama-cpp-python cannot turn an unanchored pattern into a grammar: the answer is
    # then held to any JSON, and checked against the schema afterwards.
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "[A-Z]+"}},
        "required": ["code"],
    }
    request = LLMRequest(
        messages=[{"role": "user", "content": "Give a code of capital letters, as JSON."}],
        max_tokens=48,
        temperature=0,
        json_schema=schema,
    )

    try:
        response = local.complete(request)
    except LLMStructuredOutputError as error:
        # The tiny model may not meet the schema: then the error says how it missed.
        assert error.attempts == 1 + local.max_repairs
        assert error.errors
    else:
        assert validation_errors(response.parsed, schema) == []
