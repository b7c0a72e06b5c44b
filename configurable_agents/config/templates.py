"""Safe prompt templates: ``{topic}`` and ``{article.title}`` read state fields, nothing else.

A small parser of its own, never ``str.format``/``format_map``/Jinja: a reference is a
dotted path of plain names (letters, digits, ``_``; never starting with ``_``), looked up
in the state dict and, for dotted parts, in dict values only. There are no conversions
(``!r``), format specs (``:>10``), indexing, attributes or environment access. ``{{`` and
``}}`` are literal braces. Inserted values are data: braces inside a state value are
copied verbatim and never rendered again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from configurable_agents.config.errors import TemplateError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Reference:
    """One ``{a.b}`` in a template: the dotted path and where it starts (1-based)."""

    path: tuple[str, ...]
    position: int

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


Part = str | Reference


def _reference(body: str, position: int) -> Reference:
    """Check the text between one pair of braces and return the reference."""
    shown = "{" + body + "}"
    if not body.strip():
        raise TemplateError(position, "empty reference '{}': name a state field, e.g. {topic}")
    for mark, what in (
        ("!", "conversions such as '!r'"),
        (":", "format specs such as ':>10'"),
        ("[", "indexing such as '[0]' (use dotted names: {article.title})"),
        ("(", "calls"),
    ):
        if mark in body:
            raise TemplateError(position, f"{what} are not allowed in templates: {shown}")
    parts = body.split(".")
    for part in parts:
        if part.startswith("_"):
            raise TemplateError(
                position, f"names starting with '_' are not allowed in templates: {shown}"
            )
        if not _NAME.match(part):
            raise TemplateError(
                position,
                f"invalid reference {shown}: use a state field name such as {{topic}} "
                "or {article.title} (write '{{' and '}}' for literal braces)",
            )
    return Reference(tuple(parts), position)


def parse_template(template: str) -> tuple[Part, ...]:
    """Split a template into literal text and references; raises TemplateError."""
    if not isinstance(template, str):
        raise TemplateError(1, f"a template must be text, not {type(template).__name__}")
    return _parse(template)


@lru_cache(maxsize=1024)
def _parse(template: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    literal: list[str] = []
    index, size = 0, len(template)
    while index < size:
        char = template[index]
        if char == "{" and template.startswith("{{", index):
            literal.append("{")
            index += 2
        elif char == "}" and template.startswith("}}", index):
            literal.append("}")
            index += 2
        elif char == "}":
            raise TemplateError(
                index + 1, "single '}' with no matching '{' (write '}}' for a literal brace)"
            )
        elif char == "{":
            close = template.find("}", index + 1)
            if close < 0:
                raise TemplateError(
                    index + 1, "'{' is never closed (write '{{' for a literal brace)"
                )
            body = template[index + 1 : close]
            if "{" in body:
                raise TemplateError(
                    index + 1,
                    f"nested braces are not allowed: {template[index : close + 1]} "
                    "(write '{{' and '}}' for literal braces)",
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_reference(body, index + 1))
            index = close + 1
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def template_references(template: str) -> list[Reference]:
    """Every reference of a template, in order (with duplicates); raises TemplateError."""
    return [part for part in parse_template(template) if isinstance(part, Reference)]


def template_fields(template: str) -> set[str]:
    """The top-level state field names a template reads; raises TemplateError."""
    return {reference.path[0] for reference in template_references(template)}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "object"
    return {str: "str", int: "int", float: "float", list: "list"}.get(
        type(value), type(value).__name__
    )


def lookup(state: Mapping[str, Any], path: tuple[str, ...], position: int = 1) -> Any:
    """The value at a dotted path: a state field, then keys of dict values only.

    Never reads attributes or indexes into anything but plain dicts.
    """
    head = path[0]
    if head not in state:
        raise TemplateError(position, f"'{head}' is not a field of the state")
    value = state[head]
    for depth, key in enumerate(path[1:], start=1):
        walked = ".".join(path[:depth])
        if type(value) is not dict:
            raise TemplateError(
                position, f"'{walked}' is {_type_name(value)}, so '{key}' cannot be read from it"
            )
        if key not in value:
            raise TemplateError(position, f"'{walked}' has no key '{key}'")
        value = value[key]
    return value


def format_value(value: Any) -> str:
    """How a state value reads inside a prompt: text as is, data as JSON, null as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) in (int, float):
        return str(value)
    if type(value) in (dict, list):
        # Only JSON data: no default= hook, so no object's own code runs here.
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            raise TypeError("it holds a value that is not JSON data") from None
    raise TypeError(f"a {type(value).__name__} value cannot be written into a template")


def render_template(template: str, state: Mapping[str, Any]) -> str:
    """The template with each reference replaced by its state value (inserted verbatim)."""
    out: list[str] = []
    for part in parse_template(template):
        if isinstance(part, str):
            out.append(part)
            continue
        value = lookup(state, part.path, part.position)
        try:
            out.append(format_value(value))
        except (TypeError, ValueError) as error:
            raise TemplateError(part.position, f"'{part.dotted}': {error}") from None
    return "".join(out)


def render_value(template: str, state: Mapping[str, Any]) -> Any:
    """Like render_template, but a template that is one reference (``"{items}"``) gives
    the value itself with its type (a list stays a list); anything else gives text."""
    parts = parse_template(template)
    if len(parts) == 1 and isinstance(parts[0], Reference):
        return lookup(state, parts[0].path, parts[0].position)
    return render_template(template, state)
