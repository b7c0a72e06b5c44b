"""The Optimization page's "New experiment" form, read into an experiment definition.

The form has a fixed number of variant blocks (a block with no name is left out) and one
checkbox per built-in scorer with its options. What it sends becomes plain definition data
that ``parse_definition`` validates like a YAML file; values are passed on as typed, so a
bad one comes back as an issue with its path (``variants[1].llm.temperature``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VARIANT_SLOTS = 3
# The scorers the form offers, each with the form fields of its options
# (form field -> definition key).
FORM_SCORERS: dict[str, dict[str, str]] = {
    "exact": {},
    "contains": {"contains_value": "value"},
    "regex": {"regex_pattern": "pattern"},
    "numeric": {"numeric_tolerance": "tolerance"},
    "length": {"length_min": "min", "length_max": "max"},
    "latency": {"latency_max_ms": "max_ms"},
    "cost": {"cost_max_usd": "max_usd"},
    "llm_judge": {"judge_rubric": "rubric"},
    "pairwise": {"judge_rubric": "rubric"},
}
SCORER_LABELS = {
    "exact": "Exact match",
    "contains": "Contains",
    "regex": "Regular expression",
    "numeric": "Numeric tolerance",
    "length": "Length bounds",
    "latency": "Latency budget",
    "cost": "Cost budget",
    "llm_judge": "LLM judge (rubric)",
    "pairwise": "Pairwise judge",
}
VARIANT_FIELDS = ("name", "version", "model", "temperature", "max_tokens", "node", "prompt")


@dataclass
class FormValues:
    """What the form sent, to draw it again as it was (text fields, ticked scorers)."""

    text: dict[str, str] = field(default_factory=dict)
    scorers: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.text.get(name, default)


def read_form(form: Mapping[str, Any], scorers: list[str]) -> FormValues:
    """The form's text fields (uploads and the CSRF token left out) and ticked scorers."""
    text = {
        key: value.strip()
        for key, value in form.items()
        if isinstance(value, str) and key != "csrf_token" and key != "scorer"
    }
    return FormValues(text=text, scorers=[kind for kind in scorers if kind in FORM_SCORERS])


def _number(text: str) -> Any:
    """An int or float when the text is one; the text itself otherwise (the definition's
    validation then says what is wrong, at its path)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def variant_data(values: FormValues, slot: int) -> dict[str, Any] | None:
    """One variant block as definition data; None when its name is empty."""

    def get(key: str) -> str:
        return values.get(f"variant{slot}_{key}")

    name = get("name")
    if not name:
        return None
    variant: dict[str, Any] = {"name": name}
    if get("version"):
        variant["version"] = _number(get("version"))
    llm = {
        key: _number(get(key)) if key != "model" else get(key)
        for key in ("model", "temperature", "max_tokens")
        if get(key)
    }
    if llm:
        variant["llm"] = llm
    if get("prompt"):
        # A prompt needs the node it replaces; an empty node is reported at its path.
        variant["nodes"] = {get("node") or "": {"prompt": get("prompt")}}
    return variant


def scorer_data(values: FormValues) -> list[dict[str, Any]]:
    """The ticked scorers with their options as definition data."""
    found = []
    for kind in values.scorers:
        scorer: dict[str, Any] = {"kind": kind}
        if values.get("scorer_field"):
            scorer["field"] = values.get("scorer_field")
        for form_name, key in FORM_SCORERS[kind].items():
            if values.get(form_name):
                text = values.get(form_name)
                scorer[key] = text if key in ("value", "pattern", "rubric") else _number(text)
        found.append(scorer)
    return found


def definition_data(values: FormValues) -> dict[str, Any]:
    """The whole form as definition data for ``parse_definition``."""
    data: dict[str, Any] = {
        "name": values.get("name"),
        "workflow": values.get("workflow"),
        "variants": [
            variant
            for slot in range(VARIANT_SLOTS)
            if (variant := variant_data(values, slot)) is not None
        ],
        "repeats": _number(values.get("repeats") or "1"),
        "scorers": scorer_data(values),
    }
    if values.get("description"):
        data["description"] = values.get("description")
    if values.get("version"):
        data["version"] = _number(values.get("version"))
    return data
