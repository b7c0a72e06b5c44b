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


# --- the refinements of issue 16, each with the exact graph ------------------------------------


def shape(config: WorkflowConfig) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(node id, kind or tool) in order, and the edges."""
    nodes = [(node.id, getattr(node, "tool", None) or node.kind) for node in config.nodes]
    return nodes, [(edge.from_, edge.to) for edge in config.edges]


def test_add_a_step_that_appends_it_after_the_last_step() -> None:
    config = build("Given a URL, fetch the page and summarize it")

    changed, summary = apply(config, "add a step that extracts the key points from the summary")

    assert shape(changed) == (
        [("fetch", "http_request"), ("summarize", "llm"), ("extract", "llm")],
        [("START", "fetch"), ("fetch", "summarize"), ("summarize", "extract"), ("extract", "END")],
    )
    assert "{summary}" in changed.get_node("extract").prompt  # type: ignore[union-attr]
    assert summary.startswith("Added the step 'extract' (llm) at the end: it reads summary")


def test_route_x_to_adds_a_branch_to_the_router_after_the_classification() -> None:
    config = build("Classify the ticket as bug, feature or question, then draft a reply to it")

    changed, summary = apply(config, "route questions to a support agent")

    nodes, edges = shape(changed)
    assert nodes == [
        ("classify", "llm"),
        ("route", "router"),
        ("to_support", "llm"),
        ("draft", "llm"),
    ]
    assert edges == [
        ("START", "classify"),
        ("classify", "route"),
        ("to_support", "draft"),
        ("draft", "END"),
    ]
    router = changed.get_node("route")
    assert [(r.when.value, r.to) for r in router.routes] == [("question", "to_support")]  # type: ignore[union-attr]
    assert router.default == "draft"  # type: ignore[union-attr]
    assert "question \u2192 to_support" in summary


def test_loop_at_most_5_times_sets_the_bound_of_the_loop() -> None:
    config = build("Write an article about a topic and then review it, at most 3 rounds")

    changed, summary = apply(config, "loop at most 5 times")

    assert shape(changed) == (
        [("write", "llm"), ("review", "llm"), ("repeat", "loop")],
        [("START", "write"), ("write", "review"), ("review", "repeat")],
    )
    (loop,) = loops(changed)
    assert (loop.body, loop.max_iterations, loop.exit) == ("write", 5, "END")
    assert summary == "The loop 'repeat' now runs at most 5 times."


def test_ask_me_before_sending_puts_an_approval_before_the_send() -> None:
    config = build("Draft a reply to the email and send it to Slack")

    changed, summary = apply(config, "ask me before sending")

    assert shape(changed) == (
        [("draft", "llm"), ("approve", "approval"), ("send", "http_request")],
        [("START", "draft"), ("draft", "approve"), ("approve", "send"), ("send", "END")],
    )
    approve = changed.get_node("approve")
    assert isinstance(approve, ApprovalNode) and "{reply}" in approve.message
    assert summary.startswith("Added the approval 'approve' before 'send'")


def test_save_the_result_to_a_file_adds_a_file_write_of_the_last_result() -> None:
    config = build("Summarize the text")

    changed, summary = apply(config, "save the result to a file")

    assert shape(changed) == (
        [("summarize", "llm"), ("save", "file_write")],
        [("START", "summarize"), ("summarize", "save"), ("save", "END")],
    )
    save = changed.get_node("save")
    assert save.args.path == "outputs/summary.md" and save.args.content == "{summary}\n"  # type: ignore[union-attr]
    assert "Added the step 'save' (file_write)" in summary


def test_send_it_to_a_url_adds_an_http_post_of_the_last_result() -> None:
    config = build("Summarize the text")

    changed, _ = apply(config, "send it to https://hooks.example.com/digest")

    assert shape(changed) == (
        [("summarize", "llm"), ("send", "http_request")],
        [("START", "summarize"), ("summarize", "send"), ("send", "END")],
    )
    send = changed.get_node("send")
    assert send.args.url == "https://hooks.example.com/digest"  # type: ignore[union-attr]
    assert (send.args.method, send.args.body) == ("POST", "{summary}")  # type: ignore[union-attr]


def test_remove_the_review_takes_its_loop_and_fields_with_it() -> None:
    config = build("Write an article about a topic and then review it, at most 3 rounds")

    changed, summary = apply(config, "remove the review")

    assert shape(changed) == ([("write", "llm")], [("START", "write"), ("write", "END")])
    assert "{feedback}" not in changed.get_node("write").prompt  # type: ignore[union-attr]
    assert set(changed.state) == {"topic", "article"}
    assert summary.startswith("Removed the step 'review' and the loop 'repeat'")


def test_every_gallery_example_a_plan_can_hold_lifts_and_composes_to_the_same_graph() -> None:
    from configurable_agents.builder import compose, lift

    lifted = 0
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        config = load_config(path)
        plan = lift(config)
        if plan is None:
            continue
        lifted += 1
        again = config_from_data(compose(plan, offline=False))
        assert shape(again)[0] == shape(config)[0], path.name
        assert set(shape(again)[1]) == set(shape(config)[1]), path.name
    assert lifted >= 9


def test_the_answer_to_the_labels_question_relabels_the_router() -> None:
    from configurable_agents.builder import interpret

    request = "Classify the ticket and route it to the right team"
    plan = interpret(request)
    assert plan.question is not None and plan.question.text.startswith("Which labels")
    config = build(request)

    changed, summary = apply(config, plan.question.choices[1].edit)

    assert changed.state["category"].values == ["bug", "feature", "question"]
    router = changed.get_node("route")
    assert [route.when.value for route in router.routes] == ["bug", "feature", "question"]  # type: ignore[union-attr]
    assert "Answer with one of: bug, feature, question." in changed.get_node("classify").prompt  # type: ignore[union-attr]
    assert summary == "'classify' now sorts into bug / feature / question."
