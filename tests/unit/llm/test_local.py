"""The local provider on the real embedded SmolLM2 model (few, short generations)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from configurable_agents.llm import (
    LLMRequest,
    LLMStructuredOutputError,
    LLMTimeoutError,
    get_provider,
)
from configurable_agents.llm.local import LocalProvider
from configurable_agents.llm.structured import validation_errors

ROOT = Path(__file__).resolve().parents[3]
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


def test_a_pattern_llama_cpp_cannot_parse_as_grammar_does_not_crash() -> None:
    # llama.cpp's converter writes an escaped dot into grammar that llama.cpp then fails to
    # parse, and the process died (SIGSEGV): run in a child so that a crash is a failure.
    code = """
import json
from configurable_agents.llm import LLMRequest, get_provider
schema = {"type": "object", "properties": {"host": {"type": "string",
          "pattern": "^[a-z]+(\\\\.[a-z]+)*$"}}, "required": ["host"]}
request = LLMRequest(messages=[{"role": "user", "content": "A host name like example.org"}],
                     max_tokens=32, temperature=0, json_schema=schema)
response = get_provider("local", n_threads=2, max_repairs=0).complete(request)
print(json.dumps([response.structured_output, sorted(response.parsed)]))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )

    # A structured-output error is a clean failure of the tiny model, not a crash.
    clean = done.returncode == 0 or "LLMStructuredOutputError" in done.stderr
    assert clean, f"exit {done.returncode}: {done.stderr[-800:]}"
    if done.returncode == 0:
        # Validated against the whole schema, the pattern included, by the provider.
        assert json.loads(done.stdout.strip().splitlines()[-1]) == ["grammar", ["host"]]
