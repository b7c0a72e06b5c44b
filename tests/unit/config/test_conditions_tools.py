"""Router/loop conditions, calculator expressions, JSON paths and workspace paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.config import Condition, resolve_in_workspace
from configurable_agents.config.expressions import (
    ExpressionError,
    evaluate_expression,
    expression_fields,
)
from configurable_agents.config.jsonpath import JsonPathError, extract

STATE = {
    "score": 7,
    "ratio": 0.5,
    "flag": True,
    "label": "good",
    "text": "Hello world",
    "tags": ["a", "b"],
    "meta": {"year": 2024, "blank": "  "},
    "none": None,
}


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("score", "eq", 7, True),
        ("score", "eq", 7.0, True),
        ("flag", "eq", 1, False),  # a bool equals only a bool
        ("flag", "eq", True, True),
        ("label", "ne", "bad", True),
        ("score", "gte", 7, True),
        ("score", "gt", 7, False),
        ("ratio", "lt", 1, True),
        ("ratio", "lte", 0.5, True),
        ("text", "gt", 1, False),  # not a number: never ordered
        ("label", "in", ["good", "fine"], True),
        ("label", "not_in", ["good"], False),
        ("text", "contains", "world", True),
        ("tags", "contains", "c", False),
        ("meta", "contains", "year", True),
        ("meta.year", "eq", 2024, True),
        ("meta.blank", "empty", None, True),
        ("none", "empty", None, True),
        ("missing.deep", "empty", None, True),
        ("tags", "not_empty", None, True),
    ],
)
def test_condition_evaluation(field: str, op: str, value: object, expected: bool) -> None:
    condition = Condition.model_validate({"field": field, "op": op, "value": value})
    assert condition.evaluate(STATE) is expected


def test_condition_labels() -> None:
    assert Condition(field="score", op="gte", value=7).describe() == "score gte 7"
    assert Condition(field="x", op="in", value=["a", 1]).describe() == 'x in ["a", 1]'
    assert Condition(field="x", op="empty").describe() == "x empty"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("score * 2 + ratio", 14.5),
        ("round(score / 3, 2)", 2.33),
        ("max(score, meta.year) - min(1, 2)", 2023),
        ("-score ** 2", -49),
        ("score // 2 % 3", 0),
        ("abs(-ratio)", 0.5),
    ],
)
def test_calculator_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert evaluate_expression(expression, STATE) == expected


def test_calculator_lists_the_fields_it_reads() -> None:
    assert expression_fields("price * quantity + order.tax + price") == [
        "price",
        "quantity",
        "order.tax",
    ]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("__import__('os').system('id')", "the only functions are abs, min, max and round"),
        ("score.__class__", "only state field names"),
        ("'text' * 3", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("[1, 2]", "only numbers, state fields"),
        ("lambda: 1", "only numbers, state fields"),
        ("score if flag else 0", "only numbers, state fields"),
        ("round(score, ndigits=2)", "the only functions"),
        ("1 +", "cannot parse the expression"),
        ("(" * 300 + "1" + ")" * 300, "the expression is longer than 500 characters"),
        ("", "the expression is empty"),
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str, fragment: str) -> None:
    with pytest.raises(ExpressionError, match=None) as caught:
        evaluate_expression(expression, STATE)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("9 ** 9 ** 9", "the result is too large"),
        ("score / 0", "division by zero"),
        ("text * 2", "'text' is str, not a number"),
        ("(-8) ** 0.5", "not a real number"),
        ("10.0 ** 400", "cannot compute"),
    ],
)
def test_calculator_errors_at_run_time_are_clear(expression: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expression(expression, STATE)
    assert fragment in str(caught.value)


def test_json_path_extracts() -> None:
    data = {"items": [{"id": 1, "tags": ["x"]}, {"id": 2, "tags": []}], "odd key": {"v": True}}
    assert extract(data, "$.items[0].id") == 1
    assert extract(data, "$.items[-1].id") == 2
    assert extract(data, "$.items[*].id") == [1, 2]
    assert extract(data, "$['odd key'].v") is True
    assert extract('{"a": {"b": [5]}}', "$.a.b[0]") == 5
    assert extract(data, "$.items[*].missing") == []


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("items[0]", "a JSON path starts with '$'"),
        ("$.items[0", "unexpected '[0' at character 8"),
        ("$..id", "unexpected '..id'"),
        ("$.items[5].id", "nothing at [5]"),
        ("$.nope", "nothing at .nope"),
    ],
)
def test_json_path_errors(path: str, fragment: str) -> None:
    with pytest.raises(JsonPathError) as caught:
        extract({"items": [{"id": 1}]}, path)
    assert fragment in str(caught.value)


def test_workspace_paths_stay_inside(tmp_path: Path) -> None:
    assert resolve_in_workspace(tmp_path, "notes/a.md") == tmp_path.resolve() / "notes" / "a.md"
    for bad, fragment in [
        ("/etc/passwd", "not absolute"),
        ("..\\up.txt", "'..' is not allowed"),
        ("a/../../b", "'..' is not allowed"),
        ("C:/x", "not absolute"),
        ("~/.ssh/id_rsa", "not absolute"),
        ("", "the path is empty"),
    ]:
        with pytest.raises(ValueError, match=None) as caught:
            resolve_in_workspace(tmp_path, bad)
        assert fragment in str(caught.value)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="leads outside the workspace folder"):
        resolve_in_workspace(tmp_path, "link/file.txt")
