"""The anthropic provider against the Messages route of the scripted HTTP server."""

from __future__ import annotations

import pytest

from configurable_agents.llm import (
    LLMAuthError,
    LLMHTTPError,
    LLMRequest,
    LLMRequestError,
    LLMStructuredOutputError,
    Provider,
    get_provider,
)
from tests.fakes import FakeLLMServer, Reply
from tests.unit.llm.conftest import FAST_RETRY, KEY_ENV

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "user", "content": "Summarise the news."},
]
TITLE = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def test_messages_call_with_system_prompt_headers_usage_and_cost(
    anthropic: Provider, fake_llm_server: FakeLLMServer, api_key: str
) -> None:
    fake_llm_server.push(Reply(text="Nothing new.", prompt_tokens=100, completion_tokens=20))

    response = anthropic.complete(LLMRequest(messages=CONVERSATION, max_tokens=64))

    assert response.text == "Nothing new."
    assert (response.prompt_tokens, response.completion_tokens) == (100, 20)
    # claude-3-5-haiku: $0.80 in, $4 out per million tokens.
    assert response.cost == pytest.approx((100 * 0.8 + 20 * 4) / 1e6)
    assert (response.provider, response.finish_reason) == ("anthropic", "stop")
    sent = fake_llm_server.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == api_key
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "You are terse."
    # Consecutive user messages are merged: the API wants alternating turns.
    assert sent.body["messages"] == [{"role": "user", "content": "Hi\n\nSummarise the news."}]
    assert sent.body["max_tokens"] == 64


def test_max_tokens_is_always_sent(anthropic: Provider, fake_llm_server: FakeLLMServer) -> None:
    anthropic.complete(LLMRequest(messages=[{"role": "user", "content": "Hi"}]))

    assert fake_llm_server.last_request.body["max_tokens"] == 1024
    assert "system" not in fake_llm_server.last_request.body


def test_cut_off_answer_reports_length(anthropic: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(Reply(text="It was a dark and", finish_reason="length"))

    response = anthropic.complete(LLMRequest(messages=CONVERSATION, max_tokens=5))

    assert response.finish_reason == "length"


def test_streaming_events_deliver_tokens_and_usage(
    anthropic: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(
        Reply(chunks=["One ", "two ", "three"], prompt_tokens=9, completion_tokens=3)
    )
    tokens: list[str] = []

    response = anthropic.complete(LLMRequest(messages=CONVERSATION, on_token=tokens.append))

    assert tokens == ["One ", "two ", "three"]
    assert response.text == "One two three"
    assert (response.prompt_tokens, response.completion_tokens) == (9, 3)
    assert fake_llm_server.last_request.body["stream"] is True


def test_structured_output_by_validate_and_repair(
    anthropic: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push("Here is a title: News", '```json\n{"title": "News"}\n```')

    response = anthropic.complete(LLMRequest(messages=CONVERSATION, json_schema=TITLE))

    assert response.parsed == {"title": "News"}
    assert response.attempts == 2
    first = fake_llm_server.requests[0].body
    assert first["system"].startswith("You are terse.")
    assert "JSON Schema" in first["system"] and '"title"' in first["system"]
    repair = fake_llm_server.last_request.body["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert "not valid JSON" in repair[-1]["content"]


def test_structured_output_failure_is_bounded(fake_llm_server: FakeLLMServer, api_key: str) -> None:
    provider = get_provider(
        "anthropic",
        model="claude-3-5-haiku-latest",
        base_url=fake_llm_server.url,
        api_key_env=KEY_ENV,
        max_repairs=1,
    )
    fake_llm_server.push({"name": "x"}, {"name": "y"}, {"title": "unused"})

    with pytest.raises(LLMStructuredOutputError) as caught:
        provider.complete(LLMRequest(messages=CONVERSATION, json_schema=TITLE))

    assert caught.value.attempts == 2
    assert "'title' is a required property" in caught.value.errors[0]


def test_overloaded_is_retried(anthropic: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(Reply(status=529, error="Overloaded"), "fine now")

    response = anthropic.complete(LLMRequest(messages=CONVERSATION))

    assert (response.text, response.attempts) == ("fine now", 2)


def test_server_error_message_is_shown(anthropic: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(
        *[Reply(status=500, error="Internal server error")] * FAST_RETRY.max_attempts
    )

    with pytest.raises(LLMHTTPError, match="Internal server error"):
        anthropic.complete(LLMRequest(messages=CONVERSATION))


def test_the_key_is_required(
    fake_llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    provider = get_provider(
        "anthropic", model="claude-3-5-haiku-latest", base_url=fake_llm_server.url
    )

    with pytest.raises(LLMAuthError) as caught:
        provider.complete(LLMRequest(messages=CONVERSATION))

    assert caught.value.env_var == "ANTHROPIC_API_KEY"
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    assert fake_llm_server.requests == []


def test_a_conversation_must_start_with_the_user(anthropic: Provider) -> None:
    with pytest.raises(LLMRequestError, match="needs a user message"):
        anthropic.complete(LLMRequest(messages=[{"role": "assistant", "content": "Hello"}]))
