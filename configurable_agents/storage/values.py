"""What a database can store: the one check every entry point runs before it stores text.

A lone surrogate (``"\\ud800"``, which JSON's ``\\u`` escapes can carry) cannot be encoded
as UTF-8, so a row holding one breaks every page and answer that shows it; PostgreSQL
refuses NUL in text and JSON; SQLite and PostgreSQL integers stop at 64 bits; JSON has no
NaN or infinity. :func:`require_storable` refuses all of these with
:class:`~configurable_agents.storage.errors.UnstorableValueError` naming the value's path.
The API, the forms, webhooks, the CLI and the chat all reach it through the repositories
(runs, workflows, chat, experiments); the dashboard also runs it on each request's
parameters and body first, so the answer names the field as the client sent it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from configurable_agents.storage.errors import UnstorableValueError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Any surrogate code point left in a Python str is unpaired: UTF-8 cannot encode it.
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
# Deeper than any JSON a client sends on purpose; the walk stops here instead of recursing.
MAX_DEPTH = 64

Path = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or a lone surrogate, with its place), or None."""
    found = _BAD_CHAR.search(text)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character" if char == "\x00" else f"a lone surrogate (\\u{ord(char):04x})"
    return f"contains {what} at character {found.start() + 1}, which cannot be stored"


def int_problem(number: int) -> str | None:
    """Why an integer cannot be stored (outside 64 bits), or None."""
    if INT64_MIN <= number <= INT64_MAX:
        return None
    return f"is out of range: integers must lie between {INT64_MIN} and {INT64_MAX}"


def problem_in(value: Any, where: Path = ()) -> tuple[Path, str] | None:
    """The path and reason of the first part of ``value`` that cannot be stored, or None.

    Walks dicts (keys and values), lists and tuples; checks text, integers and floats.
    """
    stack: list[tuple[Any, Path]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        reason: str | None = None
        if isinstance(item, str):
            reason = text_problem(item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            reason = int_problem(item)
        elif isinstance(item, float):
            reason = None if math.isfinite(item) else "is not a finite number"
        elif isinstance(item, dict):
            if len(path) - len(where) >= MAX_DEPTH:
                reason = f"is nested deeper than {MAX_DEPTH} levels"
            else:
                for key, inner in reversed(list(item.items())):
                    key_reason = text_problem(key) if isinstance(key, str) else None
                    if key_reason:
                        return (*path, repr(key)), f"the key {key_reason}"
                    stack.append((inner, (*path, key)))
        elif isinstance(item, list | tuple):
            if len(path) - len(where) >= MAX_DEPTH:
                reason = f"is nested deeper than {MAX_DEPTH} levels"
            else:
                stack.extend((inner, (*path, i)) for i, inner in reversed(list(enumerate(item))))
        if reason:
            return path, reason
    return None


def require_storable(value: Any, where: Path) -> None:
    """Raise UnstorableValueError naming the first part of ``value`` (at ``where``) that
    cannot be stored; return quietly when all of it can."""
    found = problem_in(value, where)
    if found is not None:
        raise UnstorableValueError(*found)
