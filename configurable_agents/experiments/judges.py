"""The LLM judges: a rubric score of one output, and a pairwise preference between two
variants' outputs (shown in a seeded random order, so neither side is always first).

A judge runs on any configured provider (the scorer's ``llm``, else the definition's
``judge``, else the workflow's own LLM settings). What it costs is returned so it is
counted apart from the cells' runs.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from configurable_agents.config.schema import LLMConfig, ModelPrice
from configurable_agents.engine.context import ProviderCache
from configurable_agents.llm.errors import LLMError
from configurable_agents.llm.types import LLMRequest
from configurable_agents.settings import Settings

SCORE_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}},
    "required": ["score"],
}
WINNER_SCHEMA = {
    "type": "object",
    "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]}},
    "required": ["winner"],
}
JUDGE_SYSTEM = "You are a strict evaluator. Judge only by the rubric. Answer with JSON only."

_caches: dict[int, ProviderCache] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Verdict:
    """A judge's answer: a value in [0, 1] (None when the judge failed) and its cost."""

    value: float | None
    cost: float
    detail: str = ""


def _provider(settings: Settings, llm: LLMConfig, pricing: Mapping[str, ModelPrice]) -> Any:
    with _lock:
        cache = _caches.setdefault(id(settings), ProviderCache(settings))
    return cache.get(llm, pricing)


def _ask(
    settings: Settings,
    llm: LLMConfig,
    pricing: Mapping[str, ModelPrice],
    prompt: str,
    schema: Mapping[str, Any],
) -> tuple[Any, float, str]:
    provider = _provider(settings, llm, pricing)
    request = LLMRequest(
        messages=[{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}],
        model=llm.model,
        temperature=0.0 if llm.temperature is None else llm.temperature,
        max_tokens=llm.max_tokens or 64,
        json_schema=schema,
        schema_name="verdict",
    )
    try:
        response = provider.complete(request)
    except LLMError as error:
        cost = 0.0
        return None, cost, f"the judge failed: {error}"
    return response.parsed, float(response.cost), response.text


def rubric_score(
    settings: Settings,
    llm: LLMConfig,
    pricing: Mapping[str, ModelPrice],
    *,
    rubric: str,
    inputs: Mapping[str, Any],
    output: Any,
    expected: Any = None,
) -> Verdict:
    """The judge's 0-10 score of ``output`` under ``rubric``, as a value in [0, 1]."""
    prompt = (
        f"Rubric:\n{rubric}\n\nInputs:\n{_show(inputs)}\n\n"
        + (f"Expected answer:\n{_show(expected)}\n\n" if expected is not None else "")
        + f"Answer to judge:\n{_show(output)}\n\n"
        'Score the answer from 0 (fails the rubric) to 10 (fully meets it): {"score": N}'
    )
    parsed, cost, detail = _ask(settings, llm, pricing, prompt, SCORE_SCHEMA)
    try:
        value = min(10.0, max(0.0, float(parsed["score"]))) / 10.0
    except (TypeError, KeyError, ValueError):
        return Verdict(None, cost, detail or "the judge gave no score")
    return Verdict(value, cost, detail)


def first_is_variant(seed: int, row: int, repeat: int, variant: str) -> bool:
    """Whether the variant's output is shown as A (else the baseline's is): seeded, so the
    same experiment shows the same order, and about half the pairs each way."""
    return random.Random(f"{seed}:{row}:{repeat}:{variant}").random() < 0.5


def pairwise(
    settings: Settings,
    llm: LLMConfig,
    pricing: Mapping[str, ModelPrice],
    *,
    rubric: str,
    inputs: Mapping[str, Any],
    variant_output: Any,
    baseline_output: Any,
    variant_first: bool,
) -> Verdict:
    """1.0 when the judge prefers the variant's output, 0.0 the baseline's, 0.5 a tie."""
    first, second = (
        (variant_output, baseline_output) if variant_first else (baseline_output, variant_output)
    )
    prompt = (
        f"Rubric:\n{rubric}\n\nInputs:\n{_show(inputs)}\n\n"
        f"Answer A:\n{_show(first)}\n\nAnswer B:\n{_show(second)}\n\n"
        'Which answer meets the rubric better? {"winner": "A"}, {"winner": "B"} or {"winner": "tie"}'
    )
    parsed, cost, detail = _ask(settings, llm, pricing, prompt, WINNER_SCHEMA)
    winner = parsed.get("winner") if isinstance(parsed, Mapping) else None
    if winner == "tie":
        return Verdict(0.5, cost, detail)
    if winner not in ("A", "B"):
        return Verdict(None, cost, detail or "the judge named no winner")
    variant_won = (winner == "A") == variant_first
    return Verdict(1.0 if variant_won else 0.0, cost, detail)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
