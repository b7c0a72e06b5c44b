"""Structured output against servers that differ: the ladder json_schema -> json_object ->
text, remembered per endpoint for the process, with calls counted on a real HTTP server
that refuses the way llama-cpp-python's server does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from configurable_agents.llm import LLMHTTPError, LLMRequest, Provider, get_provider
from configurable_agents.llm.base import structured_methods
from configurable_agents.llm.structured import without_patterns
from tests.fakes import LLAMA_CPP_FORMATS, FakeLLMServer, Reply
from tests.unit.llm.conftest import FAST_RETRY

SUMMARY = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["summary", "score"],
}
ANSWER = {"summary": "ok", "score": 1}


def ask(**options: object) -> LLMRequest:
    messages = [{"role": "user", "content": "Summarize: owls hunt at night."}]
    return LLMRequest(messages=messages, json_schema=SUMMARY, **options)  # type: ignore[arg-type]


def provider(server: FakeLLMServer, **options: object) -> Provider:
    return get_provider(
        "openai",
        model="smollm2",
        base_url=server.base_url,
        retry=FAST_RETRY,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def llama_like() -> Iterator[FakeLLMServer]:
    """A server that refuses json_schema with HTTP 500, as llama-cpp-python's does."""
    with FakeLLMServer(response_formats=LLAMA_CPP_FORMATS) as server:
        yield server


def kinds(server: FakeLLMServer) -> list[str]:
    return [
        (request.body.get("response_format") or {}).get("type", "text")
        for request in server.requests
    ]


def test_a_server_refusing_json_schema_costs_one_refused_call_per_process(
    llama_like: FakeLLMServer,
) -> None:
    llama_like.push(ANSWER, ANSWER, ANSWER)

    first = provider(llama_like).complete(ask())
    # Another provider instance (another workflow, the builder) at the same endpoint.
    second = provider(llama_like).complete(ask())
    third = provider(llama_like).complete(ask())

    assert [first.parsed, second.parsed, third.parsed] == [ANSWER] * 3
    # Before the ladder: 3 calls per request (the 500 retried), every request failing.
    assert kinds(llama_like) == ["json_schema", "json_object", "json_object", "json_object"]
    assert len(llama_like.refused) == 1
    assert (first.attempts, second.attempts, third.attempts) == (2, 1, 1)
    assert {first.structured_output, second.structured_output} == {"json_object"}
    sent = llama_like.requests[1].body
    assert sent["response_format"] == {"type": "json_object", "schema": SUMMARY}
    assert "JSON Schema" in sent["messages"][0]["content"]  # the schema is in the prompt


def test_a_refusal_spends_neither_retries_nor_repairs(llama_like: FakeLLMServer) -> None:
    # No repairs allowed (the chat builder does its own): the refusal must not need one.
    llama_like.push(ANSWER)

    response = provider(llama_like, max_repairs=0).complete(ask())

    assert response.parsed == ANSWER
    assert len(llama_like.requests) == 2  # one refusal, not retried; one answer


def test_a_server_taking_neither_format_gets_text_with_repairs() -> None:
    with FakeLLMServer(response_formats=("text",), refusal_status=422) as server:
        server.push("not json", ANSWER, ANSWER)
        openai = provider(server)

        first = openai.complete(ask())
        second = openai.complete(ask())

    assert kinds(server) == ["json_schema", "json_object", "text", "text", "text"]
    assert "response_format" not in server.requests[2].body
    assert first.parsed == ANSWER and first.structured_output == "text"
    assert first.attempts == 4  # two refusals, the bad answer, its repair
    assert second.attempts == 1 and second.structured_output == "text"


def test_a_server_taking_json_schema_keeps_it(fake_llm_server: FakeLLMServer) -> None:
    # Known to work, a later 500 is a server failure: retried, and the method kept.
    fake_llm_server.push(ANSWER, Reply(status=500, error="overloaded"), ANSWER)
    openai = provider(fake_llm_server)

    first = openai.complete(ask())
    second = openai.complete(ask())

    assert kinds(fake_llm_server) == ["json_schema"] * 3
    assert first.structured_output == second.structured_output == "json_schema"
    assert second.attempts == 2


def test_a_server_down_is_not_taken_for_a_refusal(fake_llm_server: FakeLLMServer) -> None:
    # 503 is no refusal status: retried as a failure, and nothing learnt about the endpoint.
    fake_llm_server.push(*[Reply(status=503, error="loading model")] * 3)
    openai = provider(fake_llm_server)

    with pytest.raises(LLMHTTPError) as caught:
        openai.complete(ask())

    assert caught.value.status_code == 503 and caught.value.attempts == 3
    assert kinds(fake_llm_server) == ["json_schema"] * 3
    assert structured_methods.get(openai.endpoint_key("smollm2")) is None


def test_a_known_method_refused_later_is_found_again(fake_llm_server: FakeLLMServer) -> None:
    # The server behind the URL changed: an error naming response_format is a refusal even
    # when the method worked before.
    fake_llm_server.push(
        ANSWER, Reply(status=400, error="response_format json_schema is not supported"), ANSWER
    )
    openai = provider(fake_llm_server)

    openai.complete(ask())
    second = openai.complete(ask())

    assert kinds(fake_llm_server) == ["json_schema", "json_schema", "json_object"]
    assert second.structured_output == "json_object"
    assert structured_methods.get(openai.endpoint_key("smollm2")) == "json_object"


def test_concurrent_first_requests_probe_once() -> None:
    with FakeLLMServer(response_formats=LLAMA_CPP_FORMATS) as server:
        # A slow refusal, so that the other requests arrive while the probe is out.
        server.refusal_delay = 0.2
        openai = provider(server)
        results: list[object] = []
        threads = [
            threading.Thread(target=lambda: results.append(openai.complete(ask()).parsed))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

    assert len(results) == 4
    assert len(server.refused) == 1
    assert len(server.requests) == 5


def test_streamed_structured_output_falls_back_too(llama_like: FakeLLMServer) -> None:
    tokens: list[str] = []
    llama_like.push(Reply(chunks=['{"summary": "ok", ', '"score": 1}']))

    response = provider(llama_like).complete(ask(on_token=tokens.append))

    assert response.parsed == ANSWER and response.structured_output == "json_object"
    assert kinds(llama_like) == ["json_schema", "json_object"]
    assert "".join(tokens) == response.text


def test_other_endpoints_and_models_are_probed_on_their_own(llama_like: FakeLLMServer) -> None:
    provider(llama_like).complete(ask())
    other_model = get_provider(
        "openai", model="other", base_url=llama_like.base_url, retry=FAST_RETRY
    )

    other_model.complete(ask())

    assert len(llama_like.refused) == 2


def test_without_patterns_drops_the_keyword_not_a_property_of_that_name() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": r"^[a-z]+(\.[a-z]+)*$"},
            "pattern": {"type": "string", "enum": ["a"]},
            "tags": {"type": "array", "items": {"type": "string", "pattern": "^x"}},
            "either": {"anyOf": [{"type": "string", "pattern": "y"}, {"type": "null"}]},
        },
        "$defs": {"Id": {"type": "string", "pattern": "^i"}},
    }

    cleaned = without_patterns(schema)

    assert cleaned == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "pattern": {"type": "string", "enum": ["a"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "$defs": {"Id": {"type": "string"}},
    }
    assert schema["properties"]["name"]["pattern"]  # the original is untouched


def test_json_object_rung_sends_the_schema_without_patterns(llama_like: FakeLLMServer) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}},
        "required": ["name"],
    }
    llama_like.push({"name": "owl"})

    response = provider(llama_like).complete(
        LLMRequest(messages=[{"role": "user", "content": "A name"}], json_schema=schema)
    )

    assert response.parsed == {"name": "owl"}
    sent = llama_like.last_request.body["response_format"]
    assert sent == {
        "type": "json_object",
        "schema": {**schema, "properties": {"name": {"type": "string"}}},
    }


def test_a_prompt_too_long_is_not_taken_for_a_refusal(fake_llm_server: FakeLLMServer) -> None:
    # llama-cpp-python's server answers 400 with OpenAI's wording for this.
    too_long = (
        "This model's maximum context length is 2048 tokens. However, you requested 3036 "
        "tokens (3031 in the messages, 5 in the completion)."
    )
    fake_llm_server.push(Reply(status=400, error=too_long))
    openai = provider(fake_llm_server)

    with pytest.raises(LLMHTTPError) as caught:
        openai.complete(ask())

    assert "maximum context length is 2048" in str(caught.value)
    assert kinds(fake_llm_server) == ["json_schema"]
