"""Price lookups, reading JSON out of model text, and the retry waits."""

from __future__ import annotations

import pytest

from configurable_agents.llm import (
    LLMConfigError,
    LLMRequest,
    LLMRequestError,
    PriceTable,
    RetryPolicy,
)
from configurable_agents.llm.retry import parse_retry_after
from configurable_agents.llm.structured import (
    check_schema,
    is_strict_compatible,
    parse_and_validate,
    parse_json,
)

TAGS = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["tags"],
}


@pytest.mark.parametrize(
    ("model", "priced_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
    ],
)
def test_dated_model_names_get_the_price_of_their_family(model: str, priced_as: str) -> None:
    table = PriceTable()

    assert table.price_of(model) == table.price_of(priced_as)
    assert table.price_of(model) is not None


@pytest.mark.parametrize("model", ["gpt-4omni", "llama3.2", "mistral:7b", ""])
def test_unknown_models_have_no_price(model: str) -> None:
    cost = PriceTable().cost(model, 1000, 1000)

    assert (cost.amount, cost.known) == (0.0, False)
    assert repr(model) in cost.note


def test_config_prices_extend_and_override_the_builtin_table() -> None:
    table = PriceTable(
        {"gpt-4o": {"input": 1, "output": 2}, "mistral": {"input": 0.5, "output": 0.5}}
    )

    assert table.cost("gpt-4o-2024-08-06", 1_000_000, 1_000_000).amount == pytest.approx(3.0)
    assert table.cost("mistral:7b", 2_000_000, 0).amount == pytest.approx(1.0)
    assert "gpt-4o-mini" in table


@pytest.mark.parametrize(
    "value", [{"input": 1}, {"input": "cheap", "output": 1}, {"input": -1, "output": 1}, 3.0]
)
def test_a_wrong_price_entry_names_the_model(value: object) -> None:
    with pytest.raises(LLMConfigError, match="pricing for model 'my-model'"):
        PriceTable({"my-model": value})


@pytest.mark.parametrize(
    "text",
    [
        '{"tags": ["a"]}',
        '  {"tags": ["a"]}\n',
        'Here you go:\n```json\n{"tags": ["a"]}\n```\nAnything else?',
        'Sure. {"tags": ["a"]} Hope that helps.',
    ],
)
def test_json_is_found_in_what_models_write(text: str) -> None:
    assert parse_and_validate(text, TAGS) == ({"tags": ["a"]}, [])


def test_errors_name_the_json_path() -> None:
    value, errors = parse_and_validate('{"tags": ["a", 2]}', TAGS)

    assert value is None
    assert errors == ["at $.tags[1]: 2 is not of type 'string'"]


def test_no_json_at_all() -> None:
    assert parse_json("") == (None, "the answer was empty, expected a JSON object")
    value, error = parse_json("I cannot do that")
    assert value is None and error is not None and "not valid JSON" in error


def test_a_broken_schema_is_refused_before_any_call() -> None:
    with pytest.raises(LLMRequestError, match="not a valid JSON Schema"):
        check_schema({"type": "objekt"})


def test_strict_compatibility() -> None:
    strict = {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {
                "type": "object",
                "properties": {"c": {"type": "integer"}},
                "required": ["c"],
                "additionalProperties": False,
            },
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    assert is_strict_compatible(strict)
    loose_inner = {**strict, "properties": {**strict["properties"], "b": {"type": "object"}}}
    assert not is_strict_compatible(loose_inner)
    assert not is_strict_compatible({**strict, "required": ["a"]})


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        ([], "at least one message"),
        ([{"role": "robot", "content": "x"}], "role must be one of"),
        ([{"role": "user", "content": None}], "content must be a string"),
    ],
)
def test_bad_requests_are_refused(messages: list, complaint: str) -> None:
    with pytest.raises(LLMRequestError, match=complaint):
        LLMRequest(messages=messages)


def test_backoff_grows_and_retry_after_wins() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, max_retry_after=10.0)

    assert 0.5 <= policy.delay(1) <= 1.0
    assert 1.0 <= policy.delay(2) <= 2.0
    assert 2.0 <= policy.delay(5) <= 4.0
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=600.0) == 10.0


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
