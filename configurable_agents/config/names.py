"""The checked string types of the workflow language: names, references, templates, secrets.

Each is an ``Annotated[str, ...]`` whose validator gives a message a person can act on,
and whose JSON Schema carries the same pattern for editors and constrained decoding.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema

from configurable_agents.config.templates import TemplateError, parse_template

START = "START"
END = "END"

# Any JSON value, with a schema that grammar converters for constrained decoding accept.
JsonValue = Annotated[
    Any,
    WithJsonSchema({"type": ["string", "number", "integer", "boolean", "array", "object", "null"]}),
]

FIELD_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
FIELD_PATH_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$"
NODE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
AGENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"

# Prefixes of real credentials (case matters): a value starting with one is a key.
_KEY_PREFIXES = (
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "ghp_",
    "gho_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "hf_",
    "AIza",
)


def _checker(pattern: str, what: str, example: str, max_length: int):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"{what} is longer than {max_length} characters")
        if not compiled.match(value):
            raise ValueError(f"'{value}' is not a valid {what}: {example}")
        return value

    return check


def _pattern_type(pattern: str, what: str, example: str, max_length: int = 64):
    return Annotated[
        str,
        AfterValidator(_checker(pattern, what, example, max_length)),
        Field(json_schema_extra={"pattern": pattern, "maxLength": max_length}),
    ]


FieldName = _pattern_type(
    FIELD_NAME_PATTERN,
    "field name",
    "use letters, digits and '_', starting with a letter (e.g. topic, article_text)",
)
FieldPath = _pattern_type(
    FIELD_PATH_PATTERN,
    "field reference",
    "a state field name, with dots to read inside an object (e.g. score, article.title)",
    max_length=200,
)
Slug = _pattern_type(
    SLUG_PATTERN,
    "name",
    "use lowercase letters, digits, '-' and '_' (e.g. summarize-and-translate)",
    max_length=100,
)
AgentName = _pattern_type(
    AGENT_NAME_PATTERN,
    "agent name",
    "use letters, digits, '.', '-' and '_' (e.g. remote-summarizer)",
    max_length=200,
)


def _refuse(words: tuple[str, ...], message: str):
    def check(value: str) -> str:
        if value in words:
            raise ValueError(message.format(value=value))
        return value

    return check


NodeId = Annotated[
    _pattern_type(
        NODE_ID_PATTERN,
        "node id",
        "use letters, digits, '-' and '_', starting with a letter (e.g. summarize)",
    ),
    AfterValidator(
        _refuse((START, END), "'{value}' is reserved for the start and end of the graph")
    ),
]


def _reference_type(pattern: str, what: str, example: str, refused: str, message: str):
    return Annotated[
        str,
        AfterValidator(_checker(pattern, what, example, 64)),
        AfterValidator(_refuse((refused,), message)),
        Field(json_schema_extra={"pattern": NODE_ID_PATTERN, "maxLength": 64}),
    ]


# A node id or END: where a transition goes.
Target = _reference_type(
    r"^(END|[A-Za-z][A-Za-z0-9_-]*)$",
    "target",
    "a node id or END",
    START,
    "START cannot be a target: it is where the run begins",
)
# A node id or START: where an edge comes from.
Source = _reference_type(
    NODE_ID_PATTERN,
    "edge source",
    "a node id or START",
    END,
    "END cannot start an edge: nothing runs after it",
)


def _check_template(value: str) -> str:
    try:
        parse_template(value)
    except TemplateError as error:
        raise ValueError(f"template error {error}") from None
    return value


Template = Annotated[str, AfterValidator(_check_template), Field(min_length=1)]


def looks_like_secret(value: str) -> bool:
    """True when a value reads like a credential rather than a name."""
    if value.startswith(_KEY_PREFIXES) or value.lower().startswith(("bearer ", "basic ")):
        return True
    # Variable names are words joined by '_'; long runs of letters and digits are keys.
    has_digit = any(char.isdigit() for char in value)
    return len(value) >= 20 and "_" not in value and has_digit


def env_name_type(message: str) -> Any:
    """A str type holding the NAME of an environment variable; ``message`` says what to
    write instead of a value (the value is never echoed: it may be the secret itself)."""

    def check(value: str) -> str:
        if looks_like_secret(value) or not re.match(ENV_NAME_PATTERN, value):
            raise ValueError(message)
        return value

    return Annotated[
        str,
        AfterValidator(check),
        Field(json_schema_extra={"pattern": ENV_NAME_PATTERN, "maxLength": 128}),
    ]


EnvVarName = env_name_type(
    "api_key_env takes the NAME of an environment variable that holds the key "
    "(e.g. OPENAI_API_KEY), never the key itself; use uppercase letters, digits and '_'"
)
