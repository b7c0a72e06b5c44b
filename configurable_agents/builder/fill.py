"""Short texts from the embedded model, under bounded schemas, with a deterministic fallback.

The small local model cannot plan a workflow, but it can reword one instruction. Each ask
is constrained by a JSON Schema whose pattern makes the answer start with the step's own
verb; the answer is kept only when it passes plain checks (length, no repetition, no
words that are not in the request or in a small list of style words). Anything else --
junk, a timeout, a missing model -- keeps the deterministic text, so a fill can only
make a prompt different, never make a config invalid or late beyond the time budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from configurable_agents.builder.compose import prompt_for
from configurable_agents.builder.events import Progress
from configurable_agents.builder.plan import Plan, Step
from configurable_agents.builder.text import content_words, label, sentence, stem, words
from configurable_agents.llm import LLMError, LLMRequest, Provider

# Style words a reworded instruction may add to the request's own words.
STYLE_WORDS = content_words(
    """short brief briefly clear clearly concise concisely simple simply plain sentence
    sentences paragraph paragraphs word words few main key point points idea ideas language
    following given provided below above text answer response only friendly polite
    professional formal informal well structured written detail details detailed accurate
    accurately faithful faithfully keep meaning original tone style list summary carefully
    helpful useful short-form engaging readable reader readers natural naturally correct
    correctly precise precisely overall important information content"""
)
_BANNED = frozenset(
    {"json", "schema", "object", "string", "property", "properties", "field", "null"}
)
MAX_TOKENS = 40
MAX_WORDS = 28
CALL_TIMEOUT = 15.0


@dataclass
class FillReport:
    """How the model's texts fared: asked, kept, and why others were dropped."""

    asked: int = 0
    kept: int = 0
    seconds: float = 0.0
    dropped: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if not self.asked:
            return "no text was asked of the embedded model"
        return f"{self.kept} of {self.asked} short texts came from the embedded model"


def acceptable(candidate: str, allowed: set[str], verb: str | None = None) -> str | None:
    """Why a model's text is not usable, or None when it is."""
    found = words(candidate)
    if len(found) < 3:
        return "too short"
    if len(found) > MAX_WORDS:
        return "too long"
    if verb and (not found or stem(found[0]) != stem(verb)):
        return "does not start with the step's verb"
    if any(word in _BANNED for word in found) or "{" in candidate or "}" in candidate:
        return "talks about the answer format"
    stems = [stem(word) for word in found]
    if max(stems.count(item) for item in set(stems)) > 2:
        return "repeats itself"
    trigrams = [tuple(stems[i : i + 3]) for i in range(len(stems) - 2)]
    if len(trigrams) != len(set(trigrams)):
        return "repeats itself"
    unknown = content_words(candidate) - allowed - STYLE_WORDS
    if unknown:
        return f"adds words the request does not have ({', '.join(sorted(unknown)[:3])})"
    return None


def _schema(start: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "text": {"type": "string", "pattern": f"^{re.escape(start)} [A-Za-z0-9 ,.;'()-]+$"}
        },
        "required": ["text"],
        "additionalProperties": False,
    }


class Filler:
    """Asks the embedded model for short texts within a time budget per turn."""

    def __init__(self, provider: Provider | None, budget_seconds: float = 20.0) -> None:
        self.provider = provider
        self.budget_seconds = budget_seconds

    def _ask(self, system: str, user: str, start: str, deadline: float) -> tuple[str | None, str]:
        if self.provider is None:
            return None, "the embedded model is not available"
        left = deadline - time.monotonic()
        if left < 2:
            return None, "the time budget for model texts was used up"
        request = LLMRequest(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            json_schema=_schema(start),
            schema_name="text",
            max_tokens=MAX_TOKENS,
            temperature=0.2,
            timeout=min(CALL_TIMEOUT, left),
        )
        try:
            response = self.provider.complete(request)
        except LLMError as error:
            return None, f"the model did not answer usably ({type(error).__name__})"
        text = str((response.parsed or {}).get("text", "")).strip()
        return text, ""

    def fill(self, plan: Plan, data: dict[str, Any]) -> Generator[Progress, None, FillReport]:
        """Reword the instructions of the plan's model steps in ``data`` (and the
        description of a long request); yields progress, returns the report."""
        report = FillReport()
        started = time.monotonic()
        deadline = started + self.budget_seconds
        nodes = {node["id"]: node for node in data["nodes"]}
        request_words = content_words(plan.request)
        for step in plan.steps():
            node = nodes.get(step.id)
            # Only free-worded steps: a review or a classification ends with a fixed format.
            if step.kind != "llm" or node is None or "prompt" not in node:
                continue
            base = step.instruction.strip()
            yield Progress(
                "filling", f"asking the embedded model to word the prompt of '{step.id}'"
            )
            report.asked += 1
            allowed = request_words | content_words(base) | _field_words(step)
            verb = words(base)[0] if words(base) else step.does
            text, why = self._ask(
                "Rewrite the task as one clear instruction to an assistant. Keep its meaning.",
                f"Task: {base}",
                verb.capitalize(),
                deadline,
            )
            problem = why or acceptable(text or "", allowed, verb)
            if problem:
                report.dropped.append(f"{step.id}: {problem}")
                continue
            report.kept += 1
            node["prompt"] = prompt_for(step, sentence(text or base))
        summary = plan.description or plan.request
        if len(summary) > 120:
            yield Progress("filling", "asking the embedded model for a one-sentence description")
            report.asked += 1
            text, why = self._ask(
                "Say in one sentence what this workflow does.",
                summary,
                "It",
                deadline,
            )
            problem = why or acceptable(text or "", request_words | {"workflow", "step"}, "it")
            if problem:
                report.dropped.append(f"description: {problem}")
            else:
                report.kept += 1
                data["description"] = sentence("This workflow " + (text or "")[3:].strip())
        report.seconds = round(time.monotonic() - started, 2)
        return report


def _field_words(step: Step) -> set[str]:
    return content_words(" ".join(label(name) for name in [*step.reads, *step.writes]))
