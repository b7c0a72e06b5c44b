"""The openai provider against a real OpenAI-compatible HTTP server started by the test."""

from __future__ import annotations

import asyncio
import json

import pytest

from configurable_agents.llm import (
    LLMAuthError,
    LLMHTTPError,
    LLMRequest,
    LLMResponseError,
    LLMStructuredOutputError,
    LLMTimeoutError,
    LLMUnreachableError,
    Provider,
    get_provider,
)
from configurable_agents.llm._http import _lines
from tests.conftest import free_port
from tests.fakes import FakeLLMServer, Reply
from tests.unit.llm.conftest import FAST_RETRY, KEY_ENV

SUMMARY = {
    "type": "object",
    "properties": {"summary": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["summary", "score"],
}


def ask(text: str = "Say hello", **options: object) -> LLMRequest:
    return LLMRequest(messages=[{"role": "user", "content": text}], **options)  # type: ignore[arg-type]


def test_completion_returns_text_usage_and_cost(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(Reply(text="Hello there", prompt_tokens=1000, completion_tokens=2000))

    response = openai.complete(ask(temperature=0.3, max_tokens=50))

    assert response.text == "Hello there"
    assert (response.prompt_tokens, response.completion_tokens) == (1000, 2000)
    # gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
    assert response.cost == pytest.approx((1000 * 0.15 + 2000 * 0.60) / 1e6)
    assert response.cost_known
    assert response.attempts == 1
    assert (response.provider, response.model, response.finish_reason) == (
        "openai",
        "gpt-4o-mini",
        "stop",
    )
    assert response.latency_ms > 0
    sent = fake_llm_server.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.3, 50)


def test_unknown_model_costs_nothing_and_says_so(fake_llm_server: FakeLLMServer) -> None:
    provider = get_provider("openai", model="llama3.2", base_url=fake_llm_server.base_url)

    response = provider.complete(ask())

    assert response.cost == 0
    assert not response.cost_known
    assert "llama3.2" in response.cost_note and "pricing" in response.cost_note


def test_price_from_the_workflow_config_is_used(fake_llm_server: FakeLLMServer) -> None:
    provider = get_provider(
        "openai",
        model="llama3.2",
        base_url=fake_llm_server.base_url,
        pricing={"llama3.2": {"input": 1.0, "output": 3.0}},
    )
    fake_llm_server.push(Reply(text="ok", prompt_tokens=500_000, completion_tokens=100_000))

    response = provider.complete(ask())

    assert response.cost == pytest.approx(0.5 + 0.3)
    assert response.cost_known


def test_a_bare_host_base_url_means_its_v1(fake_llm_server: FakeLLMServer) -> None:
    provider = get_provider("openai", model="m", base_url=fake_llm_server.url)

    assert provider.complete(ask("ping")).text == "fake reply to: ping"
    assert fake_llm_server.last_request.path == "/v1/chat/completions"


def test_429_is_retried_after_retry_after(openai: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(Reply(status=429, headers={"Retry-After": "0"}), "made it")

    response = openai.complete(ask())

    assert response.text == "made it"
    assert response.attempts == 2
    assert len(fake_llm_server.requests) == 2


def test_500_is_retried(openai: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(Reply(status=500), Reply(status=503), "third time")

    response = openai.complete(ask())

    assert (response.text, response.attempts) == ("third time", 3)


def test_retries_are_bounded(openai: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(*[Reply(status=502, error="upstream down")] * 5)

    with pytest.raises(LLMHTTPError) as caught:
        openai.complete(ask())

    assert caught.value.status_code == 502
    assert caught.value.attempts == FAST_RETRY.max_attempts
    assert "HTTP 502" in str(caught.value) and "upstream down" in str(caught.value)
    assert len(fake_llm_server.requests) == FAST_RETRY.max_attempts
    assert fake_llm_server.pending == 5 - FAST_RETRY.max_attempts


def test_other_client_errors_are_not_retried(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(Reply(status=404, error="model 'gpt-4o-mini' not found"))

    with pytest.raises(LLMHTTPError) as caught:
        openai.complete(ask())

    message = str(caught.value)
    assert "model 'gpt-4o-mini' not found" in message
    assert "LLM_BASE_URL" in message and "LLM_MODEL" in message
    assert caught.value.attempts == 1


def test_connection_refused_names_the_endpoint_and_setting() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    provider = get_provider("openai", model="m", base_url=url, retry=FAST_RETRY)

    with pytest.raises(LLMUnreachableError) as caught:
        provider.complete(ask())

    message = str(caught.value)
    assert f"{url}/chat/completions" in message
    assert "LLM_BASE_URL" in message
    assert caught.value.attempts == FAST_RETRY.max_attempts


def test_slow_answer_times_out_without_retrying(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(Reply(text="too late", delay=3))

    with pytest.raises(LLMTimeoutError) as caught:
        openai.complete(ask(timeout=0.3))

    assert "0.3 s" in str(caught.value) and "LLM_TIMEOUT" in str(caught.value)
    assert caught.value.timeout == 0.3
    assert len(fake_llm_server.requests) == 1


def test_malformed_body_is_a_clear_error(openai: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push(Reply(body='{"choices": [ {"mess'))

    with pytest.raises(LLMResponseError) as caught:
        openai.complete(ask())

    assert "not JSON" in str(caught.value)


def test_body_without_choices_is_a_clear_error(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(Reply(body='{"id": "x"}'))

    with pytest.raises(LLMResponseError, match=r"without choices\[0\]\.message"):
        openai.complete(ask())


def test_structured_output_asks_for_json_schema(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push({"summary": "short", "score": 3})

    response = openai.complete(ask(json_schema=SUMMARY, schema_name="summary"))

    assert response.parsed == {"summary": "short", "score": 3}
    response_format = fake_llm_server.last_request.body["response_format"]
    assert response_format == {
        "type": "json_schema",
        "json_schema": {"name": "summary", "schema": SUMMARY, "strict": False},
    }


def test_strict_mode_for_schemas_that_allow_it(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    strict = {**SUMMARY, "additionalProperties": False}

    response = openai.complete(ask(json_schema=strict))

    assert response.parsed == {"summary": "fake", "score": 0}
    assert fake_llm_server.last_request.body["response_format"]["json_schema"]["strict"] is True


def test_invalid_json_is_repaired(openai: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push("Sure! Here it is: summary=short", {"summary": "short", "score": 3})

    response = openai.complete(ask(json_schema=SUMMARY))

    assert response.parsed == {"summary": "short", "score": 3}
    assert response.attempts == 2
    repair = fake_llm_server.last_request.messages
    assert repair[-2] == {"role": "assistant", "content": "Sure! Here it is: summary=short"}
    assert "not valid JSON" in repair[-1]["content"]
    assert '"summary"' in repair[-1]["content"]


def test_json_of_the_wrong_shape_is_repaired_with_the_errors(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push({"summary": 5}, {"summary": "five", "score": 5})

    response = openai.complete(ask(json_schema=SUMMARY))

    assert response.parsed == {"summary": "five", "score": 5}
    repair = fake_llm_server.last_request.messages[-1]["content"]
    assert "at $.summary: 5 is not of type 'string'" in repair
    assert "'score' is a required property" in repair


def test_structured_output_gives_up_after_bounded_repairs(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push("no", "still no", "never", "unused")

    with pytest.raises(LLMStructuredOutputError) as caught:
        openai.complete(ask(json_schema=SUMMARY))

    error = caught.value
    assert error.attempts == 3  # the first answer and two repairs
    assert error.last_text == "never"
    assert error.errors and "not valid JSON" in error.errors[0]
    assert "gpt-4o-mini" in str(error) and "after 3 attempts" in str(error)
    assert fake_llm_server.pending == 1


def test_refused_response_format_falls_back_to_json_object(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(
        Reply(status=400, error="Unknown parameter: 'response_format.json_schema'"),
        {"summary": "ok", "score": 1},
        {"summary": "again", "score": 2},
    )

    first = openai.complete(ask(json_schema=SUMMARY))
    second = openai.complete(ask(json_schema=SUMMARY))

    assert first.parsed == {"summary": "ok", "score": 1}
    assert first.attempts == 2
    assert first.structured_output == "json_object"
    fallback = fake_llm_server.requests[1].body
    assert fallback["response_format"] == {"type": "json_object", "schema": SUMMARY}
    assert fallback["messages"][0]["role"] == "system"
    assert "JSON Schema" in fallback["messages"][0]["content"]
    # The endpoint is not asked for json_schema again.
    assert second.parsed == {"summary": "again", "score": 2}
    assert second.attempts == 1
    assert fake_llm_server.last_request.body["response_format"]["type"] == "json_object"


def test_streaming_delivers_tokens_in_order(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(
        Reply(chunks=["The ", "quick ", "brown ", "fox"], prompt_tokens=7, completion_tokens=4)
    )
    tokens: list[str] = []

    response = openai.complete(ask(on_token=tokens.append))

    assert tokens == ["The ", "quick ", "brown ", "fox"]
    assert response.text == "The quick brown fox"
    assert (response.prompt_tokens, response.completion_tokens) == (7, 4)
    assert response.cost_known
    sent = fake_llm_server.last_request.body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_streamed_calls_share_one_kept_alive_connection(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    # A stream read only to its [DONE] would leave the connection unusable: every call
    # would pay a new TCP connection (and TLS handshake, against a real endpoint).
    for word in ("one", "two", "three"):
        fake_llm_server.push(Reply(text=word))
        tokens: list[str] = []
        assert openai.complete(ask(on_token=tokens.append)).text == word
        assert "".join(tokens) == word

    assert fake_llm_server.connections_opened == 1


def test_stream_without_usage_says_the_cost_is_unknown(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    fake_llm_server.push(Reply(text="no usage here", usage=False))

    response = openai.complete(ask(stream=True))

    assert response.text == "no usage here"
    assert (response.prompt_tokens, response.completion_tokens, response.cost) == (0, 0, 0)
    assert not response.cost_known
    assert "no token usage" in response.cost_note


def test_streamed_structured_output_is_parsed(
    openai: Provider, fake_llm_server: FakeLLMServer
) -> None:
    tokens: list[str] = []
    fake_llm_server.push(Reply(chunks=['{"summary": ', '"streamed", ', '"score": 9}']))

    response = openai.complete(ask(json_schema=SUMMARY, on_token=tokens.append))

    assert response.parsed == {"summary": "streamed", "score": 9}
    assert "".join(tokens) == response.text


@pytest.mark.parametrize(
    "chunk_delay",
    [0.2, 1.0],  # pieces keep coming but the total is too long / one piece is too late
)
def test_slow_stream_times_out(
    openai: Provider, fake_llm_server: FakeLLMServer, chunk_delay: float
) -> None:
    fake_llm_server.push(Reply(chunks=["a ", "b ", "c ", "d"], chunk_delay=chunk_delay))

    with pytest.raises(LLMTimeoutError):
        openai.complete(ask(stream=True, timeout=0.3))


def test_api_key_is_sent_but_never_shown(
    openai: Provider, fake_llm_server: FakeLLMServer, api_key: str
) -> None:
    openai.complete(ask())
    assert fake_llm_server.last_request.headers["authorization"] == f"Bearer {api_key}"

    # Servers echo a wrong key in their error message: it must not reach ours.
    fake_llm_server.push(Reply(status=401, error=f"Incorrect API key provided: {api_key}"))
    with pytest.raises(LLMAuthError) as caught:
        openai.complete(ask())
    assert caught.value.env_var == KEY_ENV
    assert KEY_ENV in str(caught.value)

    fake_llm_server.push(*[Reply(status=500, error=f"boom {api_key}")] * 3)
    with pytest.raises(LLMHTTPError) as server_error:
        openai.complete(ask())

    for shown in (
        str(caught.value),
        repr(caught.value),
        str(server_error.value),
        repr(server_error.value),
        server_error.value.detail,
        repr(openai),
        repr(vars(openai)),
        repr(vars(openai.endpoint)),  # type: ignore[attr-defined]
    ):
        assert api_key not in shown
    assert "[redacted]" in str(caught.value)


def test_missing_key_variable_is_named(
    fake_llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CA_TEST_UNSET_KEY", raising=False)
    provider = get_provider(
        "openai", model="m", base_url=fake_llm_server.base_url, api_key_env="CA_TEST_UNSET_KEY"
    )

    with pytest.raises(LLMAuthError) as caught:
        provider.complete(ask())

    assert "CA_TEST_UNSET_KEY" in str(caught.value) and "LLM_API_KEY_ENV" in str(caught.value)
    assert fake_llm_server.requests == []


def test_without_a_key_variable_no_authorization_is_sent(fake_llm_server: FakeLLMServer) -> None:
    provider = get_provider("openai", model="m", base_url=fake_llm_server.base_url)

    provider.complete(ask())

    assert "authorization" not in fake_llm_server.last_request.headers


def test_async_completion(openai: Provider, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.push("from a thread")

    response = asyncio.run(openai.acomplete(ask()))

    assert response.text == "from a thread"


def test_stream_lines_split_anywhere_are_joined_before_parsing() -> None:
    # Network chunks cut lines (and an "é" in its middle); servers end lines with CRLF.
    chunks = [b'data: {"t": "caf\xc3', b'\xa9"}\r\n\r\nda', b"ta: [DONE]\r\n", b"\r\n"]

    lines = [line.strip() for line in _lines(iter(chunks))]

    assert lines == [b'data: {"t": "caf\xc3\xa9"}', b"", b"data: [DONE]", b""]
    assert json.loads(lines[0][5:]) == {"t": "café"}
