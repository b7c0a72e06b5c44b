"""The chat builder against the corpus of real requests (tests/unit/builder/corpus): every
request ends with a valid workflow, and the share that has the required steps in order,
every required feature and sensible input names is reported and held to the goal.

The offline builder is measured as the chat runs it: rules and the gallery (the embedded
model is not asked; benchmarks/chat.py measured that it raised no pass rate). The requests
of corpus/heldout.yaml were collected after the tables were tuned, by a collector who did not
see the builder, and their failures are not listed here: the rate on them is how well the
tables generalise; both are reported. Each earlier held-out collection was moved into
requests.yaml when it was first read (its rate while held out is noted there).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from configurable_agents.builder import Builder, Gallery, interpret
from configurable_agents.config import config_to_data
from configurable_agents.settings import Settings
from tests.unit.builder import plan_checks
from tests.unit.builder.conftest import run_turn
from tests.unit.builder.corpus_score import Score, load_corpus, score, split, summary

GOAL = 0.90
# The rate over the whole corpus (tuned and held out) when this floor was last set: a change
# to the tables may not lose it. Set when the tenth collection (45 held-out requests, h9-*)
# joined the ninth (h8-*) as held out: 342 of 533 (64.2%); tuned 314 of 443, held out 28 of 90.
# Raised after the last tuning of the session: 347 of 533 (65.1%), tuned 319 of 443.
# Set when the eleventh collection (45 held-out requests, h10-*) joined the tenth as held out
# and the ninth (h8-*) was moved to the tuned ones: 361 of 578 (62.5%); tuned 331 of 488, held
# out 30 of 90. Raised after the ninth round of tuning: 367 of 578 (63.5%); tuned 336 of 488,
# held out 31 of 90.
FLOOR = 0.630


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every corpus request built once, offline: the scores and the replies."""
    from configurable_agents.settings import load_settings

    settings: Settings = load_settings(
        data_dir=tmp_path_factory.mktemp("corpus"), llm_provider="local", llm_model=""
    )
    builder = Builder(settings, Gallery.load(), fill_budget_seconds=0)
    entries = load_corpus()
    scores: dict[str, Score] = {}
    replies: dict[str, str] = {}
    configs: dict[str, dict[str, Any]] = {}
    for entry in entries:
        _, result = run_turn(builder, entry["request"], mode="offline")
        data = config_to_data(result.config) if result.config is not None else None
        scores[entry["id"]] = score(entry, data, result.config is not None)
        replies[entry["id"]] = result.reply
        if data is not None:
            configs[entry["id"]] = data
    tuning, held = split(entries)
    return {
        "scores": scores,
        "replies": replies,
        "configs": configs,
        "all": summary(list(scores.values())),
        "tuning": summary([scores[e["id"]] for e in tuning]),
        "held_out": summary([scores[e["id"]] for e in held]),
    }


def _report(outcomes: dict[str, Any]) -> str:
    # Only the tuning entries' problems are listed: the held-out ones stay unread.
    tuning, _ = split(load_corpus())
    failed = [outcomes["scores"][e["id"]] for e in tuning if not outcomes["scores"][e["id"]].passed]
    lines = [
        f"corpus pass rate {outcomes['all']['pass_rate']:.1%} "
        f"(tuning {outcomes['tuning']['pass_rate']:.1%}, "
        f"held out {outcomes['held_out']['pass_rate']:.1%})",
        *[f"  {s.id}: {'; '.join(s.problems)}" for s in failed[:40]],
    ]
    return "\n".join(lines)


def test_the_corpus_has_at_least_100_real_requests_with_sources() -> None:
    entries = load_corpus()
    assert len(entries) >= 100
    assert all(entry["source"].startswith("http") for entry in entries)
    assert len({entry["id"] for entry in entries}) == len(entries)
    _, held = split(entries)
    assert len(held) >= 40  # collected after tuning: the honest measure of generalising


def test_every_request_ends_with_a_valid_workflow(outcomes: dict[str, Any]) -> None:
    empty = [s.id for s in outcomes["scores"].values() if "no valid workflow" in s.problems]
    assert empty == []


def test_every_reply_says_what_was_built(outcomes: dict[str, Any]) -> None:
    for reply in outcomes["replies"].values():
        assert reply.startswith("Mode: offline")
        assert "Inputs:" in reply


def test_no_workflow_asks_for_a_value_no_step_uses(outcomes: dict[str, Any]) -> None:
    # A field left behind by a step the reading replaced would be an input to fill for
    # nothing (or a value nobody writes).
    unused = {}
    for request_id, data in outcomes["configs"].items():
        used = json.dumps([data["nodes"], data.get("edges"), data.get("loop")])
        idle = [name for name in data["state"] if not re.search(rf"\b{re.escape(name)}\b", used)]
        if idle:
            unused[request_id] = idle
    assert unused == {}


@pytest.fixture(scope="module")
def plans() -> dict[str, Any]:
    """The plan the rules make of every corpus request."""
    return {entry["id"]: interpret(entry["request"]) for entry in load_corpus()}


@pytest.mark.parametrize(
    "check",
    [
        plan_checks.reads_a_branch_only_value,
        plan_checks.model_steps_that_read_nothing,
        plan_checks.loops_over_a_label,
    ],
)
def test_no_plan_has_a_broken_shape(plans: dict[str, Any], check: Any) -> None:
    broken = {request_id: found for request_id, plan in plans.items() if (found := check(plan))}
    assert broken == {}


def test_the_pass_rate_does_not_fall_below_the_floor(outcomes: dict[str, Any]) -> None:
    print(_report(outcomes))
    assert outcomes["all"]["pass_rate"] >= FLOOR, _report(outcomes)


@pytest.mark.xfail(
    strict=True,
    reason="the offline pass rate is below the 90% goal (measured in the report); strict, "
    "so this turns red the day the goal is reached and the mark must go",
)
def test_the_pass_rate_reaches_the_goal(outcomes: dict[str, Any]) -> None:
    assert outcomes["all"]["pass_rate"] >= GOAL, _report(outcomes)
