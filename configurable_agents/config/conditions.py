"""Conditions on state values, used by routers and loops: ``{field: score, op: gte, value: 7}``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from configurable_agents.config.names import FieldPath, JsonValue
from configurable_agents.config.state import StrictModel

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "empty", "not_empty"]
ORDER_OPS = ("lt", "lte", "gt", "gte")
LIST_OPS = ("in", "not_in")
NO_VALUE_OPS = ("empty", "not_empty")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    # true == 1 in Python; in a workflow a bool equals only a bool.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def get_path(state: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path through dicts, or None when any part is missing."""
    head, *rest = dotted.split(".")
    value = state.get(head)
    for key in rest:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value


class Condition(StrictModel):
    """A test of one state value: ``op`` is eq, ne, lt, lte, gt, gte, in, not_in,
    contains, empty or not_empty (the last two take no value)."""

    field: FieldPath = Field(description="The state field to test; dots read inside objects.")
    op: Op
    value: JsonValue = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _value_fits_op(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op is None:
            return value
        if op in NO_VALUE_OPS:
            if value is not None:
                raise ValueError(f"`{op}` takes no value: remove `value`")
        elif value is None:
            hint = " (to test for an unset field use op: empty)" if op in ("eq", "ne") else ""
            raise ValueError(f"`{op}` needs a value{hint}")
        elif op in ORDER_OPS and not _is_number(value):
            raise ValueError(f"`{op}` compares numbers: the value must be a number")
        elif op in LIST_OPS and not isinstance(value, list):
            raise ValueError(f"`{op}` needs a list of values, e.g. [a, b]")
        elif op == "contains" and isinstance(value, list | dict):
            raise ValueError("`contains` looks for one value: text, a number or true/false")
        return value

    def describe(self) -> str:
        """A short label such as ``score gte 7``."""
        if self.op in NO_VALUE_OPS:
            return f"{self.field} {self.op}"
        shown = (
            self.value
            if isinstance(self.value, str)
            else json.dumps(self.value, ensure_ascii=False)
        )
        return f"{self.field} {self.op} {shown}"

    def evaluate(self, state: Mapping[str, Any]) -> bool:
        """Whether the condition holds for these state values (unset reads as null)."""
        actual = get_path(state, self.field)
        op, expected = self.op, self.value
        if op == "empty":
            return _is_empty(actual)
        if op == "not_empty":
            return not _is_empty(actual)
        if op == "eq":
            return _equal(actual, expected)
        if op == "ne":
            return not _equal(actual, expected)
        if op in LIST_OPS:
            found = any(_equal(actual, item) for item in expected)
            return found if op == "in" else not found
        if op == "contains":
            if isinstance(actual, str):
                return isinstance(expected, str) and expected in actual
            if isinstance(actual, list):
                return any(_equal(item, expected) for item in actual)
            if isinstance(actual, dict):
                return expected in actual
            return False
        if not (_is_number(actual) and _is_number(expected)):
            return False
        return {
            "lt": actual < expected,
            "lte": actual <= expected,
            "gt": actual > expected,
            "gte": actual >= expected,
        }[op]
