"""Refinement turns: each instruction changes the config it is given and the result
validates; what cannot be done is said, and the config stays as it was."""

from __future__ import annotations

import pytest

from configurable_agents.builder import RefineError, refine
from configurable_agents.config import (
    ApprovalNode,
    LLMNode,
    LoopNode,
    WorkflowConfig,
    config_from_data,
    input_fields,
    load_config,
)
from configurable_agents.release import EXAMPLES_DIR
from tests.unit.builder.conftest import build


def apply(config: WorkflowConfig, instruction: str) -> tuple[WorkflowConfig, str]:
    refinement = refine(config, instruction)
    assert refinement is not None, f"not understood: {instruction}"
    return config_from_data(refinement.data), refinement.summary


def loops(config: WorkflowConfig) -> list[LoopNode]:
    return [node for node in config.nodes if isinstance(node, LoopNode)]


def test_add_a_step_that_translates_the_summary_to_french() -> None:
    config = build("Summarize a text")

    changed, summary = apply(config, "add a step that translates the summary to French")

    assert [node.id for node in changed.nodes] == ["summarize", "translate"]
    translate = changed.get_node("translate")
    assert isinstance(translate, LLMNode)
    assert "{summary}" in translate.prompt and "French" in translate.prompt
    assert ("summarize", "translate") in {(e.from_, e.to) for e in changed.edges}
    assert ("translate", "END") in {(e.from_, e.to) for e in changed.edges}
    assert "translate" in summary and "summary" in summary


def test_make_the_review_loop_at_most_3_times_changes_the_bound() -> None:
    config = load_config(EXAMPLES_DIR / "write_review_loop.yaml")
    assert loops(config)[0].max_iterations != 5

    changed, summary = apply(config, "make the review loop at most 5 times")

    assert [loop.max_iterations for loop in loops(changed)] == [5]
    assert "at most 5" in summary


def test_a_loop_bound_without_a_loop_adds_the_review_and_the_loop() -> None:
    config = build("Write an article about a topic")

    changed, _ = apply(config, "make the review loop at most 3 times")

    (loop,) = loops(changed)
    assert loop.max_iterations == 3 and loop.body == "write"
    review = changed.get_node("review")
    assert isinstance(review, LLMNode) and review.output_fields == ["score", "feedback"]


def test_steps_are_added_before_after_and_at_the_start() -> None:
    config = build("Summarize a text, then translate the summary to French")

    after, _ = apply(
        config, "add a step after summarize that extracts the keywords from the summary"
    )
    assert [node.id for node in after.nodes] == ["summarize", "extract", "translate"]

    before, _ = apply(after, "add an approval step before translate")
    assert [node.id for node in before.nodes] == ["summarize", "extract", "approve", "translate"]
    assert isinstance(before.get_node("approve"), ApprovalNode)

    first, _ = apply(before, "add a step at the start that fetches a web page")
    assert first.nodes[0].id == "fetch"


def test_removing_a_step_reconnects_its_neighbours_and_names_new_inputs() -> None:
    config = build("Summarize a text, then translate the summary to French, then save it to a file")

    changed, summary = apply(config, "remove the translate step")

    assert [node.id for node in changed.nodes] == ["summarize", "save"]
    assert ("summarize", "save") in {(e.from_, e.to) for e in changed.edges}
    # The save step wrote the translation; nothing writes it any more.
    assert "french" in [field.name for field in input_fields(changed)]
    assert "now an input" in summary


def test_removing_the_review_removes_the_loop_that_depended_on_it() -> None:
    config = build("Write an article about a topic and then review it, at most 3 rounds")

    changed, _ = apply(config, "delete the review step")

    assert [node.id for node in changed.nodes] == ["write"]
    assert "score" not in changed.state


@pytest.mark.parametrize(
    ("instruction", "check"),
    [
        ("rename it to news digest", lambda c: c.name == "news-digest"),
        ("use model gpt-4o-mini", lambda c: c.llm.model == "gpt-4o-mini"),
        ("set max tokens to 300", lambda c: c.llm.max_tokens == 300),
        ("make text a list", lambda c: c.state["text"].type == "list[str]"),
        ("set the description to Short and sweet", lambda c: c.description == "Short and sweet"),
    ],
)
def test_small_edits(instruction: str, check) -> None:  # type: ignore[no-untyped-def]
    changed, _ = apply(build("Summarize a text"), instruction)
    assert check(changed)


def test_an_impossible_change_says_why() -> None:
    config = build("Summarize a text")
    with pytest.raises(RefineError, match=r"no step called 'frobnicate'.*summarize"):
        refine(config, "remove the frobnicate step")
    with pytest.raises(RefineError, match="at least one step"):
        refine(config, "remove the summarize step")


def test_a_new_description_is_not_an_edit() -> None:
    assert refine(build("Summarize a text"), "Write a poem about the sea") is None
