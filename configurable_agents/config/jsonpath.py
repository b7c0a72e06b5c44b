"""A small JSONPath subset for the json_path tool: ``$.items[0].title``, ``$.items[*].id``.

Steps: ``.key``, ``['key']`` or ``["key"]``, ``[n]`` (negative counts from the end) and
``[*]`` (every item or value). Only JSON data is walked: dicts by key, lists by index.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from configurable_agents.config.errors import JsonPathError

Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None)

_KEY = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)")
_BRACKET = re.compile(r"\[(?:(-?\d+)|\*|'([^']*)'|\"([^\"]*)\")\]")


@lru_cache(maxsize=256)
def parse_json_path(path: str) -> tuple[Step, ...]:
    """The steps of a path starting with ``$``; raises JsonPathError naming the character."""
    if not path.startswith("$"):
        raise JsonPathError("a JSON path starts with '$', e.g. $.items[0].title")
    steps: list[Step] = []
    index = 1
    while index < len(path):
        key = _KEY.match(path, index)
        bracket = _BRACKET.match(path, index)
        if key:
            steps.append(("key", key.group(1)))
            index = key.end()
        elif bracket:
            number, single, double = bracket.groups()
            if number is not None:
                steps.append(("index", int(number)))
            elif single is not None or double is not None:
                steps.append(("key", single if single is not None else double))
            else:
                steps.append(("all", None))
            index = bracket.end()
        else:
            raise JsonPathError(
                f"unexpected '{path[index : index + 10]}' at character {index + 1}: "
                "use .key, ['key'], [0] or [*]"
            )
    return tuple(steps)


def extract(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (text is parsed as JSON first).

    With ``[*]`` the result is the list of every match; without, a missing key or index
    raises JsonPathError.
    """
    steps = parse_json_path(path)
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            raise JsonPathError("the source text is not JSON") from None
    wildcard = any(kind == "all" for kind, _ in steps)
    matches = [data]
    for kind, arg in steps:
        found = []
        for value in matches:
            if kind == "all":
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, dict):
                    found.extend(value.values())
            elif (kind == "key" and isinstance(value, dict) and arg in value) or (
                kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value)
            ):
                found.append(value[arg])
            elif not wildcard:
                shown = f"[{arg}]" if kind == "index" else f".{arg}"
                raise JsonPathError(f"nothing at {shown} in the source")
        matches = found
    return matches if wildcard else matches[0]
