"""The offline decomposition: a request in words -> steps, typed inputs, a loop bound,
and a config that validates."""

from __future__ import annotations

import pytest

from configurable_agents.builder.plan import split_clauses, strip_modifiers
from configurable_agents.config import (
    ApprovalNode,
    LLMNode,
    LoopNode,
    WorkflowConfig,
    input_fields,
    transitions,
)
from tests.unit.builder.conftest import build


def order(config: WorkflowConfig) -> list[str]:
    """Node ids in the order a run meets them first (following edges from START)."""
    nexts = {}
    for transition in transitions(config):
        nexts.setdefault(transition.source, transition.target)
    seen, node = [], nexts.get("START")
    while node and node != "END" and node not in seen:
        seen.append(node)
        found = config.get_node(node)
        node = found.exit if isinstance(found, LoopNode) else nexts.get(node)
    return seen


def test_summarize_then_translate_gives_a_text_input_and_two_llm_nodes_in_order() -> None:
    config = build("Summarize a text, then translate the summary to French")

    assert [(f.name, f.type, f.required) for f in input_fields(config)] == [("text", "str", True)]
    assert [node.kind for node in config.nodes] == ["llm", "llm"]
    assert order(config) == ["summarize", "translate"]
    summarize, translate = config.nodes
    assert isinstance(summarize, LLMNode) and isinstance(translate, LLMNode)
    assert "{text}" in summarize.prompt
    # The translation reads what the summary step wrote.
    assert f"{{{summarize.output}}}" in translate.prompt
    assert "French" in translate.prompt


def test_write_then_review_at_most_3_rounds_is_a_loop_bounded_at_3() -> None:
    config = build("Write an article about a topic and then review it, at most 3 rounds")

    loops = [node for node in config.nodes if isinstance(node, LoopNode)]
    assert len(loops) == 1
    loop = loops[0]
    assert loop.max_iterations == 3
    assert loop.body == "write"
    assert loop.while_ is not None and loop.while_.field == "score"
    assert [f.name for f in input_fields(config)] == ["topic"]
    review = config.get_node("review")
    assert isinstance(review, LLMNode) and review.output_fields == ["score", "feedback"]
    assert config.state["score"].type == "int"
    # The writer sees the review's feedback on the next round.
    writer = config.get_node("write")
    assert isinstance(writer, LLMNode) and "{feedback}" in writer.prompt


@pytest.mark.parametrize(
    ("request_text", "bound"),
    [
        ("Draft an email and review it, at most 5 times", 5),
        ("Write a poem and improve it, up to two times", 2),
        ("Write a story about a topic, review it and repeat 4 times", 4),
        ("Write a haiku and review it until it is good", 3),
    ],
)
def test_loop_bounds_are_read_from_the_words(request_text: str, bound: int) -> None:
    config = build(request_text)

    loops = [node for node in config.nodes if isinstance(node, LoopNode)]
    assert [loop.max_iterations for loop in loops] == [bound]


def test_steps_are_split_on_then_after_that_commas_and_numbered_lists() -> None:
    assert split_clauses("Summarize a text and then translate it, after that review it") == [
        "Summarize a text",
        "translate it",
        "review it",
    ]
    assert split_clauses("1. Fetch a web page\n2. Summarize it\n3) Save it to a file") == [
        "Fetch a web page",
        "Summarize it",
        "Save it to a file",
    ]
    # A list inside a step is not a new step.
    assert split_clauses("Classify a message as positive, negative or neutral") == [
        "Classify a message as positive, negative or neutral"
    ]


def test_modifiers_are_taken_out_of_the_step_text() -> None:
    text, found = strip_modifiers("Write a draft and review it, at most 3 rounds")
    assert (text, found.bound) == ("Write a draft and review it", 3)


def test_things_the_user_supplies_become_typed_required_inputs() -> None:
    config = build(
        "Answer the user's question about a document, then translate the answer into a given language"
    )
    inputs = {f.name: (f.type, f.required) for f in input_fields(config)}
    assert inputs == {
        "question": ("str", True),
        "document": ("str", True),
        "language": ("str", True),
    }

    numbers = build("Estimate the cost of a project for a budget")
    assert numbers.state["budget"].type == "float"


def test_concrete_subjects_stay_in_the_prompt_instead_of_becoming_inputs() -> None:
    config = build("Write a short poem about the sea, then translate it to Spanish")

    assert input_fields(config) == []
    writer = config.nodes[0]
    assert isinstance(writer, LLMNode) and "the sea" in writer.prompt


def test_approval_words_and_a_review_by_a_person_make_a_human_approval_step() -> None:
    approved = build(
        "Draft a blog post about a product, get it approved by a manager, then save it to a file"
    )
    assert [node.kind for node in approved.nodes] == ["llm", "approval", "tool"]
    approval = approved.nodes[1]
    assert isinstance(approval, ApprovalNode) and "{blog_post}" in approval.message

    by_hand = build("Write a report about a topic, then have a person review it")
    assert [node.kind for node in by_hand.nodes] == ["llm", "approval"]


def test_classification_into_named_values_is_an_enum_output() -> None:
    config = build(
        "Classify a customer message as positive, negative or neutral and then reply to it"
    )

    assert config.state["sentiment"].type == "enum"
    assert config.state["sentiment"].values == ["positive", "negative", "neutral"]
    assert [f.name for f in input_fields(config)] == ["customer_message"]
    reply = config.get_node("reply")
    assert isinstance(reply, LLMNode) and "{customer_message}" in reply.prompt


def test_tools_for_fetching_and_saving() -> None:
    config = build("1. Fetch https://example.com/news\n2. Summarize it\n3. Save it to news.md")

    assert [getattr(node, "tool", node.kind) for node in config.nodes] == [
        "http_request",
        "llm",
        "file_write",
    ]
    assert config.state["url"].default == "https://example.com/news"
    save = config.nodes[2]
    assert save.args.path == "news.md"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "request_text",
    [
        "I want a workflow that summarizes a text and translates it to German",
        "Extract the keywords from an email, after that write a short reply",
        "summarize and translate a text to spanish",
        "Read notes.txt, proofread it and save it to fixed.txt",
        "Brainstorm ideas for a product; pick the best one; write a slogan for it",
        "Write a cover letter for a job description, then check it for typos, at most 2 rounds",
    ],
)
def test_every_decomposition_validates(request_text: str) -> None:
    config = build(request_text)
    assert config.nodes
