"""How a built workflow fares against one corpus entry: the checks of issue 16, kept apart
from the builder so that the builder's own word lists cannot make a check pass.

A workflow passes when its config is valid, it has the required steps in order (kind, and
tool for tool steps, as a subsequence of its nodes), every required feature, the router
branches and loop bound the words name, and sensible input names (no stop-words, no
`url_2`-style duplicates). Used by tests/unit/builder/test_corpus.py and
benchmarks/chat.py (which also scores the previous builder with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).parent / "corpus" / "requests.yaml"
# Requests collected after the tables were tuned, each marked `heldout: true`: their
# failures are not read while tuning, so their rate measures how the tables generalise.
HELD_OUT = Path(__file__).parent / "corpus" / "heldout.yaml"
# Words that are never a sensible input name on their own.
STOP_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "them",
        "they",
        "and",
        "or",
        "but",
        "so",
        "of",
        "to",
        "in",
        "into",
        "on",
        "for",
        "from",
        "with",
        "by",
        "as",
        "at",
        "about",
        "is",
        "are",
        "be",
        "was",
        "were",
        "if",
        "unless",
        "when",
        "while",
        "until",
        "then",
        "than",
        "not",
        "no",
        "yes",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "must",
        "given",
        "using",
        "use",
        "via",
        "what",
        "which",
        "who",
        "how",
        "where",
        "why",
        "value",
        "result",
        "output",
        "input",
        "data",
        "thing",
        "step",
        "workflow",
        "and_spanish",
    ]
)
_DUPLICATE = re.compile(r"_\d+$")
_TOOLS = ("http_request", "file_read", "file_write", "calculator", "current_time", "json_path")


@dataclass
class Score:
    """One entry's outcome: passed, and why not."""

    id: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    inputs_expected: int = 0
    inputs_found: int = 0


def load_corpus(*paths: Path) -> list[dict[str, Any]]:
    """The corpus entries, in file order: the tuned requests, then the held-out ones."""
    entries: list[dict[str, Any]] = []
    for path in paths or (CORPUS, HELD_OUT):
        entries.extend(yaml.safe_load(path.read_text(encoding="utf-8")))
    return entries


def split(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tuning, held out): the entries marked `heldout: true` are held out."""
    tuning = [e for e in entries if not e.get("heldout")]
    held = [e for e in entries if e.get("heldout")]
    return tuning, held


def _role(node: dict[str, Any]) -> tuple[str, str | None]:
    if node.get("kind") == "tool":
        return "tool", node.get("tool")
    return str(node.get("kind")), None


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _same_label(expected: str, values: list[str]) -> bool:
    wanted = _norm(expected)
    return any(
        value == wanted or value.rstrip("s") == wanted.rstrip("s") or value.startswith(wanted)
        for value in (_norm(v) for v in values)
    )


def _inputs(data: dict[str, Any]) -> list[str]:
    return [
        name
        for name, spec in (data.get("state") or {}).items()
        if spec.get("required") or "default" in spec
    ]


def score(entry: dict[str, Any], data: dict[str, Any] | None, valid: bool) -> Score:
    """The outcome of one corpus entry for the config data a builder made of its request."""
    result = Score(entry["id"], True)
    expect = entry["expect"]
    if data is None or not valid:
        result.passed = False
        result.problems.append("no valid workflow")
        return result
    nodes = data.get("nodes") or []
    roles = [_role(node) for node in nodes]
    position = 0
    for wanted in expect.get("steps") or []:
        key = (wanted["kind"], wanted.get("tool"))
        while position < len(roles) and roles[position] != key:
            position += 1
        if position == len(roles):
            result.problems.append(
                f"missing step {wanted['kind']}:{wanted.get('tool') or wanted['does']} (in order)"
            )
            break
        position += 1
    kinds = {role[0] for role in roles}
    tools = {role[1] for role in roles if role[1]}
    for feature in expect.get("features") or []:
        present = feature in tools if feature in _TOOLS else feature in kinds
        if not present:
            result.problems.append(f"missing feature {feature}")
    branches = expect.get("router_branches")
    if branches:
        values = [
            str(route["when"].get("value"))
            for node in nodes
            if node.get("kind") == "router"
            for route in node.get("routes", [])
        ]
        missing = [b for b in branches if not _same_label(b, values)]
        if missing:
            result.problems.append(f"router lacks branches {missing}")
    bound = expect.get("loop_max")
    if bound is not None and bound not in [
        n.get("max_iterations") for n in nodes if n.get("kind") == "loop"
    ]:
        result.problems.append(f"no loop bounded at {bound}")
    names = _inputs(data)
    for name in names:
        if name in STOP_NAMES or any(part in STOP_NAMES for part in name.split("_")[:1]):
            result.problems.append(f"input name '{name}' is a stop-word")
        if _DUPLICATE.search(name):
            result.problems.append(f"input name '{name}' is a duplicate")
    expected_inputs = expect.get("inputs") or []
    result.inputs_expected = len(expected_inputs)
    result.inputs_found = sum(
        1 for wanted in expected_inputs if any(wanted in name or name in wanted for name in names)
    )
    result.passed = not result.problems
    return result


def summary(scores: list[Score]) -> dict[str, Any]:
    """Pass rate and the share of expected inputs found."""
    expected = sum(s.inputs_expected for s in scores)
    return {
        "entries": len(scores),
        "passed": sum(s.passed for s in scores),
        "pass_rate": round(sum(s.passed for s in scores) / len(scores), 3) if scores else 0.0,
        "inputs_found_rate": round(sum(s.inputs_found for s in scores) / expected, 3)
        if expected
        else 1.0,
    }
