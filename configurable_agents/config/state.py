"""Typed state fields: type expressions, field specs, value checks and their JSON Schema.

A type is written as text: ``str``, ``int``, ``float``, ``bool``, ``enum`` (with
``values``), ``object`` (with ``fields``), ``list[T]`` and ``dict[str, T]`` of those.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from configurable_agents.config.names import FieldName, JsonValue

SCALAR_TYPES = ("str", "int", "float", "bool", "enum", "object")
TYPE_PATTERN = r"^(list\[|dict\[(str, ?)?)*(str|int|float|bool|enum|object)\]*$"
_TYPE_HELP = "types: str, int, float, bool, enum, object, list[T], dict[str, T]"
_SUGGEST = {
    "string": "str",
    "text": "str",
    "integer": "int",
    "number": "float",
    "double": "float",
    "boolean": "bool",
    "array": "list[str]",
    "map": "dict[str, str]",
}


class StrictModel(BaseModel):
    """Every model of the language refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)


@dataclass(frozen=True)
class TypeExpr:
    """A parsed type: a scalar name, or list/dict with an item type."""

    name: str
    item: TypeExpr | None = None

    def __str__(self) -> str:
        if self.name == "list":
            return f"list[{self.item}]"
        if self.name == "dict":
            return f"dict[str, {self.item}]"
        return self.name

    @property
    def inner(self) -> TypeExpr:
        """The item type of a list or dict."""
        if self.item is None:
            raise ValueError(f"{self} has no item type")
        return self.item

    @property
    def leaf(self) -> TypeExpr:
        """The innermost scalar type (``str`` for ``list[dict[str, str]]``)."""
        return self if self.item is None else self.item.leaf

    @property
    def is_number(self) -> bool:
        return self.name in ("int", "float")


@lru_cache(maxsize=512)
def parse_type(text: str) -> TypeExpr:
    """Parse a type expression; raises ValueError naming what is wrong."""
    compact = text.replace(" ", "")
    expr, end = _parse_at(compact, 0, text)
    if end != len(compact):
        raise ValueError(f"unexpected '{compact[end:]}' in type '{text}' ({_TYPE_HELP})")
    return expr


def _parse_at(text: str, start: int, original: str) -> tuple[TypeExpr, int]:
    match = re.compile(r"[A-Za-z_]+").match(text, start)
    if not match:
        raise ValueError(f"'{original}' is not a type ({_TYPE_HELP})")
    name, end = match.group(), match.end()
    if name in SCALAR_TYPES:
        return TypeExpr(name), end
    if name not in ("list", "dict"):
        hint = _SUGGEST.get(name.lower())
        use = f" use {hint};" if hint else ""
        raise ValueError(f"unknown type '{name}':{use} {_TYPE_HELP}")
    if not text.startswith("[", end):
        raise ValueError(f"'{name}' needs an item type, e.g. {name}[str] ({_TYPE_HELP})")
    end += 1
    if name == "dict":
        if text.startswith("str,", end):
            end += 4
        elif re.compile(r"[a-z]+,").match(text, end):
            raise ValueError("dict keys are always text: write dict[str, T]")
    item, end = _parse_at(text, end, original)
    if not text.startswith("]", end):
        raise ValueError(f"missing ']' in type '{original}'")
    return TypeExpr(name, item), end + 1


def _normalise_type(value: str) -> str:
    return str(parse_type(value))


TypeText = Annotated[
    str,
    AfterValidator(_normalise_type),
    Field(
        json_schema_extra={"pattern": TYPE_PATTERN, "examples": ["str", "int", "list[str]"]},
    ),
]


def _short(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 40 else shown[:37] + "..."


_JSON_NAMES = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "enum": "one of the values",
    "object": "an object",
    "list": "a list",
    "dict": "a mapping",
}


def value_problem(
    expr: TypeExpr,
    values: list[str] | None,
    fields: dict[str, TypeSpec] | None,
    value: Any,
    where: str = "",
) -> str | None:
    """Why ``value`` does not fit the type, or None when it fits."""
    at = f" at {where}" if where else ""
    name = expr.name
    fits = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "enum": isinstance(value, str) and value in (values or []),
        "object": isinstance(value, dict),
        "list": isinstance(value, list),
        "dict": isinstance(value, dict) and all(isinstance(key, str) for key in value),
    }[name]
    if not fits:
        if name == "enum":
            allowed = ", ".join(values or [])
            return f"expected one of {allowed}{at}, got {_short(value)}"
        return f"expected {_JSON_NAMES[name]} ({expr}){at}, got {_short(value)}"
    if name == "list":
        for index, item in enumerate(value):
            problem = value_problem(expr.inner, values, fields, item, f"{where}[{index}]")
            if problem:
                return problem
    elif name == "dict":
        for key, item in value.items():
            problem = value_problem(expr.inner, values, fields, item, f"{where}.{key}")
            if problem:
                return problem
    elif name == "object":
        for key, spec in (fields or {}).items():
            if key not in value:
                return f"missing key '{key}'{at}"
            problem = spec.value_problem(value[key], f"{where}.{key}".lstrip("."))
            if problem:
                return problem
        extra = sorted(set(value) - set(fields or {}))
        if extra:
            return f"unknown key '{extra[0]}'{at}"
    return None


def type_json_schema(
    expr: TypeExpr, values: list[str] | None, fields: dict[str, TypeSpec] | None
) -> dict[str, Any]:
    """The JSON Schema of a value of this type (used for structured LLM output and forms)."""
    name = expr.name
    if name == "list":
        return {"type": "array", "items": type_json_schema(expr.inner, values, fields)}
    if name == "dict":
        return {
            "type": "object",
            "additionalProperties": type_json_schema(expr.inner, values, fields),
        }
    if name == "enum":
        return {"type": "string", "enum": list(values or [])}
    if name == "object":
        properties = {key: spec.json_schema() for key, spec in (fields or {}).items()}
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
    return {"type": {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}[name]}


class TypeSpec(StrictModel):
    """A typed value: its type, a description, enum values or object fields."""

    type: TypeText = Field(description="str, int, float, bool, enum, object, list[T], dict[str, T]")
    description: str = ""
    values: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, description="The allowed values of an enum type."
    )
    fields: dict[FieldName, TypeSpec] | None = Field(
        default=None, description="The keys of an object type; all are present in a value."
    )

    @field_validator("values")
    @classmethod
    def _values_need_enum(cls, values: list[str] | None, info: ValidationInfo) -> list[str] | None:
        text = info.data.get("type")
        if values is not None and text and parse_type(text).leaf.name != "enum":
            raise ValueError(f"`values` is only for enum types, and this type is {text}")
        if values is not None and not values:
            raise ValueError("an enum needs at least one value")
        if values is not None and len(set(values)) != len(values):
            raise ValueError("enum values must be unique")
        return values

    @field_validator("fields")
    @classmethod
    def _fields_need_object(cls, fields: dict | None, info: ValidationInfo) -> dict | None:
        text = info.data.get("type")
        if fields is not None and text and parse_type(text).leaf.name != "object":
            raise ValueError(f"`fields` is only for object types, and this type is {text}")
        if fields is not None and not fields:
            raise ValueError("an object needs at least one field")
        return fields

    @model_validator(mode="after")
    def _leaf_details(self) -> TypeSpec:
        leaf = self.expr.leaf.name
        if leaf == "enum" and self.values is None:
            raise ValueError(f"type {self.type} needs `values`: the list of allowed values")
        if leaf == "object" and self.fields is None:
            raise ValueError(f"type {self.type} needs `fields`: the keys of the object")
        return self

    @property
    def expr(self) -> TypeExpr:
        """The parsed type."""
        return parse_type(self.type)

    def value_problem(self, value: Any, where: str = "") -> str | None:
        """Why a value does not fit this type, or None."""
        return value_problem(self.expr, self.values, self.fields, value, where)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of a value of this type."""
        schema = type_json_schema(self.expr, self.values, self.fields)
        if self.description:
            schema["description"] = self.description
        return schema

    def same_type(self, other: TypeSpec) -> bool:
        """True when both accept exactly the same values."""
        return (
            self.type == other.type
            and (self.values or []) == (other.values or [])
            and {k: v.model_dump() for k, v in (self.fields or {}).items()}
            == {k: v.model_dump() for k, v in (other.fields or {}).items()}
        )

    def coerce(self, value: Any) -> Any:
        """A run input as this type: text from a form or the CLI is parsed; raises ValueError."""
        name = self.expr.name
        if isinstance(value, str) and name not in ("str", "enum"):
            value = _parse_text(name, value.strip())
        if name == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        problem = self.value_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def _parse_text(name: str, text: str) -> Any:
    if name == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"expected true or false, got {_short(text)}")
    try:
        if name == "int":
            return int(text)
        if name == "float":
            return float(text)
        return json.loads(text)
    except ValueError:  # json.JSONDecodeError is a ValueError too
        what = _JSON_NAMES[name] if name in ("int", "float") else f"JSON ({_JSON_NAMES[name]})"
        raise ValueError(f"expected {what}, got {_short(text)}") from None


def _check_default(value: Any, info: ValidationInfo) -> Any:
    text = info.data.get("type")
    if value is None or not text:
        return value
    try:
        expr = parse_type(text)
    except ValueError:
        return value
    if expr.name == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    problem = value_problem(expr, info.data.get("values"), info.data.get("fields"), value)
    if problem:
        raise ValueError(f"the default does not fit type {text}: {problem}")
    return value


class StateField(TypeSpec):
    """A field of the workflow's state: an input when required, else set by nodes."""

    required: bool = Field(
        default=False, description="The run cannot start without a value for this field."
    )
    default: JsonValue = Field(
        default=None, description="The starting value when no input sets it."
    )

    _default = field_validator("default")(_check_default)

    @model_validator(mode="after")
    def _required_has_no_default(self) -> StateField:
        if self.required and self.default is not None:
            raise ValueError(
                "a required field has no default (its value comes from the run's inputs): "
                "remove `default` or `required: true`"
            )
        return self


class MemoryKey(TypeSpec):
    """A key of the workflow's memory, kept across runs."""

    default: JsonValue = Field(
        default=None, description="The value read before anything was stored."
    )

    _default = field_validator("default")(_check_default)


class Typed:
    """The type found at a dotted path of the state."""

    def __init__(self, expr: TypeExpr, spec: TypeSpec) -> None:
        self.expr = expr
        self.spec = spec

    def __str__(self) -> str:
        return str(self.expr)

    def value_problem(self, value: Any) -> str | None:
        return value_problem(self.expr, self.spec.values, self.spec.fields, value)


def resolve_path_type(state: dict[str, StateField], dotted: str) -> Typed | str:
    """The type at ``article.title``, or the reason it does not exist (a message)."""
    head, *rest = dotted.split(".")
    if head not in state:
        return f"'{head}' is not a state field"
    spec: TypeSpec = state[head]
    expr = spec.expr
    walked = head
    for key in rest:
        if expr.name == "dict":
            expr = expr.inner
        elif expr.name == "object" and spec.fields is not None:
            if key not in spec.fields:
                known = ", ".join(spec.fields)
                return f"'{walked}' has no field '{key}' (its fields: {known})"
            spec = spec.fields[key]
            expr = spec.expr
        else:
            return f"'{walked}' is {expr}, so '{key}' cannot be read from it"
        walked = f"{walked}.{key}"
    return Typed(expr, spec)
