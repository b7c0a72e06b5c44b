"""A custom scorer named as module:function by the tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def steps_and_words(
    row: Mapping[str, Any], outputs: Mapping[str, Any] | None, steps: Sequence[Mapping[str, Any]]
) -> float:
    """1.0 when the run took exactly one llm step and its answer has the row's word count."""
    words = len(str((outputs or {}).get("reply", "")).split())
    wanted = int(row["expected"].get("words", -1))
    return float(len(steps) == 1 and steps[0]["kind"] == "llm" and words == wanted)
