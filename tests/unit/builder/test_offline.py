"""The offline builder on the embedded model (no capable provider configured): rules,
gallery templates, and the small model only for short texts with a plain fallback."""

from __future__ import annotations

import pytest

from configurable_agents.builder import (
    MODE_EDIT,
    MODE_OFFLINE,
    MODE_TEMPLATE,
    Builder,
    Gallery,
    compose,
    interpret,
)
from configurable_agents.builder.fill import Filler, acceptable
from configurable_agents.config import LLMNode, LoopNode, input_fields
from configurable_agents.llm import get_provider
from configurable_agents.settings import Settings
from tests.fakes import FakeLLMServer
from tests.unit.builder.conftest import drain, run_turn


def llm_nodes(config) -> list[LLMNode]:  # type: ignore[no-untyped-def]
    return [node for node in config.nodes if isinstance(node, LLMNode)]


def test_summarize_then_translate_on_the_embedded_model(local_settings: Settings) -> None:
    # No template to lean on: rules + model (the fill is off unless given a budget).
    builder = Builder(local_settings, Gallery([]), fill_budget_seconds=20)

    progress, result = run_turn(builder, "Summarize a text, then translate the summary to French")

    assert result.ok and result.mode == MODE_OFFLINE
    config = result.config
    assert config is not None
    assert [(f.name, f.type) for f in input_fields(config)] == [("text", "str")]
    assert [node.id for node in llm_nodes(config)] == ["summarize", "translate"]
    assert "Mode: offline" in result.reply
    assert result.details["fill_asked"] == 2
    assert any("embedded model" in line for line in progress)
    if result.details["fill_kept"] == 0:
        # Every model text was dropped: the prompts are the plain ones.
        assert [n.prompt for n in llm_nodes(config)] == [
            node["prompt"]
            for node in compose(
                interpret("Summarize a text, then translate the summary to French")
            )["nodes"]
        ]


def test_write_and_review_at_most_3_rounds_on_the_embedded_model(local_settings: Settings) -> None:
    builder = Builder(local_settings, Gallery.load())

    _, result = run_turn(
        builder, "Write an article about a topic and then review it, at most 3 rounds"
    )

    assert result.ok and result.config is not None
    (loop,) = [node for node in result.config.nodes if isinstance(node, LoopNode)]
    assert loop.max_iterations == 3
    # The gallery's write-and-review is close but writes paragraphs, not articles.
    assert "Closest gallery template: **write-and-review**" in result.reply


def test_a_request_the_gallery_covers_starts_from_the_template(local_settings: Settings) -> None:
    _, result = run_turn(
        Builder(local_settings, Gallery.load()),
        "Summarize a text, then translate the summary to French",
    )

    assert result.mode == MODE_TEMPLATE
    assert result.config is not None and result.config.name == "summarize-and-translate"
    assert "matches the template **summarize-and-translate**" in result.reply


def test_refinement_turns_change_the_config(rules_builder: Builder) -> None:
    _, first = run_turn(rules_builder, "Summarize a text")
    _, second = run_turn(
        rules_builder, "add a step that translates the summary to French", first.config
    )
    _, third = run_turn(rules_builder, "then review it, at most 2 rounds", second.config)

    assert second.mode == MODE_EDIT and "Added the step 'translate'" in second.reply
    assert [node.id for node in second.config.nodes] == ["summarize", "translate"]  # type: ignore[union-attr]
    assert third.ok and third.config is not None
    assert "review" in [node.id for node in third.config.nodes]


def test_a_change_that_cannot_be_made_keeps_the_config(rules_builder: Builder) -> None:
    _, first = run_turn(rules_builder, "Summarize a text")
    _, second = run_turn(rules_builder, "remove the frobnicate step", first.config)

    assert not second.ok and second.restore_input
    assert second.config == first.config
    assert "no step called 'frobnicate'" in second.reply


def test_commands(rules_builder: Builder, gallery: Gallery) -> None:
    rules_builder.gallery = gallery
    _, listing = run_turn(rules_builder, "templates")
    assert all(name in listing.reply for name in gallery.names)

    _, started = run_turn(rules_builder, "start from write-and-review")
    assert started.mode == MODE_TEMPLATE and started.config.name == "write-and-review"  # type: ignore[union-attr]

    _, save = run_turn(rules_builder, "save it", started.config)
    assert save.action == "save"
    _, nothing = run_turn(rules_builder, "run")
    assert nothing.action is None and "no workflow yet" in nothing.reply

    _, confused = run_turn(rules_builder, "hello there")
    assert not confused.ok and "Summarize a text, then translate" in confused.reply


def test_a_pasted_key_is_removed_and_never_reaches_the_config(rules_builder: Builder) -> None:
    _, result = run_turn(
        rules_builder, "Summarize a text with my key sk-proj-abcdefghijklmnop123456"
    )

    assert "removed what looked like an API key" in result.reply
    assert result.config is not None
    assert "sk-proj" not in result.config.model_dump_json()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Summarize the text in two clear sentences", None),
        ("Summarize", "too short"),
        ("Write the text", "does not start with the step's verb"),
        ("Summarize the provided JSON schema object", "talks about the answer format"),
        ("Summarize the text text text text", "repeats itself"),
        ("Summarize the text about dragons and castles", "adds words"),
    ],
)
def test_what_counts_as_a_usable_model_text(text: str, problem: str | None) -> None:
    found = acceptable(text, {"summarize", "text"}, "summarize")
    assert (found is None) if problem is None else (found or "").startswith(problem)


def test_model_texts_are_kept_when_usable_and_dropped_when_junk(
    fake_llm_server: FakeLLMServer,
) -> None:
    provider = get_provider("openai", model="m", base_url=fake_llm_server.base_url, max_repairs=0)
    plan = interpret("Summarize a text, then translate the summary to French")
    data = compose(plan)
    fake_llm_server.push(
        {"text": "Summarize the text in two clear sentences"},
        {"text": "Translate la France en vacances en vacances"},
    )

    _, report = drain(Filler(provider, budget_seconds=30).fill(plan, data))

    assert (report.asked, report.kept) == (2, 1)
    assert data["nodes"][0]["prompt"].startswith("Summarize the text in two clear sentences.")
    assert data["nodes"][1]["prompt"] == compose(plan)["nodes"][1]["prompt"]
    assert "translate" in report.dropped[0]
    # Each ask was bounded: a JSON Schema whose pattern starts with the step's verb.
    pattern = fake_llm_server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert pattern["properties"]["text"]["pattern"].startswith("^Summarize ")


def test_without_a_model_the_plain_texts_are_used(rules_builder: Builder) -> None:
    filler = Filler(None)
    plan = interpret("Summarize a text")
    data = compose(plan)
    _, report = drain(filler.fill(plan, data))
    assert report.kept == 0 and data == compose(plan)
