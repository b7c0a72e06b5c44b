"""Structured output: find the JSON in a model's text, check it against a JSON Schema,
and word the instruction and the repair request that go back to the model."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from configurable_agents.llm.errors import LLMRequestError

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def schema_text(schema: Mapping[str, Any]) -> str:
    """The schema as compact, stable JSON (also the cache key of its validator)."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=256)
def _validator(text: str) -> Validator:
    # jsonschema is imported here so that importing the llm package stays cheap.
    from jsonschema import exceptions, validators

    schema = json.loads(text)
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as error:
        raise LLMRequestError(
            f"the output schema is not a valid JSON Schema: {error.message}"
        ) from None
    return cls(schema)


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise LLMRequestError when ``schema`` is not a valid JSON Schema."""
    _validator(schema_text(schema))


def parse_json(text: str) -> tuple[Any, str | None]:
    """The JSON value in ``text`` and None, or None and why nothing could be read.

    Models often wrap JSON in a code fence or a sentence; the fenced block, then the
    outermost ``{...}``, are tried after the whole text.
    """
    stripped = text.strip()
    candidates = [stripped]
    fenced = _FENCE.search(stripped)
    if fenced:
        candidates.append(fenced.group(1).strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    first_error = ""
    for candidate in candidates:
        try:
            # strict=False: small models put raw newlines/tabs inside JSON strings.
            return json.loads(candidate, strict=False), None
        except ValueError as error:
            first_error = first_error or str(error)
    if not stripped:
        return None, "the answer was empty, expected a JSON object"
    return None, f"the answer is not valid JSON ({first_error})"


def validation_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way ``value`` breaks ``schema``, one line each with the JSON path."""
    validator = _validator(schema_text(schema))
    errors = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
    return [f"at {error.json_path}: {error.message}" for error in errors]


def parse_and_validate(text: str, schema: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """The parsed value and [] when ``text`` holds JSON matching ``schema``, else the errors."""
    value, error = parse_json(text)
    if error is not None:
        return None, [error]
    errors = validation_errors(value, schema)
    return (value, []) if not errors else (None, errors)


def schema_instruction(schema: Mapping[str, Any]) -> str:
    """The instruction that asks for JSON matching ``schema`` in words."""
    return (
        "Answer with only a JSON object, no other text, that matches this JSON Schema:\n"
        + json.dumps(schema)
    )


def with_instruction(messages: Sequence[Mapping[str, str]], instruction: str) -> list[dict]:
    """The messages with ``instruction`` added to the system prompt (one is made if needed)."""
    result = [dict(message) for message in messages]
    if result and result[0]["role"] == "system":
        result[0]["content"] = f"{result[0]['content']}\n\n{instruction}".strip()
    else:
        result.insert(0, {"role": "system", "content": instruction})
    return result


def repair_messages(
    messages: Sequence[Mapping[str, str]],
    answer: str,
    errors: Sequence[str],
    schema: Mapping[str, Any],
) -> list[dict]:
    """The conversation so far plus the bad answer and a request to fix it."""
    problems = "\n".join(f"- {error}" for error in errors)
    return [
        *(dict(message) for message in messages),
        {"role": "assistant", "content": answer},
        {
            "role": "user",
            "content": f"That answer was not valid:\n{problems}\n\n{schema_instruction(schema)}",
        },
    ]


def is_strict_compatible(schema: Mapping[str, Any]) -> bool:
    """Whether OpenAI's strict mode accepts ``schema``: every object lists all of its
    properties as required and forbids additional ones."""
    if not isinstance(schema, Mapping):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required", [])) != set(properties):
            return False
    children: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        children.extend(schema.get(key, {}).values())
    for key in ("items", "anyOf", "oneOf", "allOf"):
        value = schema.get(key)
        children.extend(value if isinstance(value, list) else [value] if value else [])
    return all(is_strict_compatible(child) for child in children)


# Keywords whose value is one subschema, a list of them, or a map of name -> subschema.
_SUBSCHEMA = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SUBSCHEMA += ("propertyNames", "additionalItems", "unevaluatedProperties", "unevaluatedItems")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def without_patterns(schema: Any) -> Any:
    """``schema`` without its string ``pattern`` keywords, for grammar-constrained decoding.

    llama.cpp's JSON-Schema-to-grammar converter turns some regular expressions (an escaped
    dot: ``\\.``) into grammar that llama.cpp then fails to parse, and the process crashes
    (seen here with llama-cpp-python 0.3.36, in this process and in its server). The
    answer is still validated against the whole schema, patterns included, and repaired.
    """
    if isinstance(schema, list):
        return [without_patterns(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            continue
        if key in _SUBSCHEMA or key in _SUBSCHEMA_LISTS:
            result[key] = without_patterns(value)
        elif key in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
            result[key] = {name: without_patterns(sub) for name, sub in value.items()}
        else:
            result[key] = value
    return result
