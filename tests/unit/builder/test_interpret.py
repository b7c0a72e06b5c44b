"""The four requests of issue 16 that went wrong, each with its exact graph, and what the
reply says was understood and guessed."""

from __future__ import annotations

from typing import Any

from configurable_agents.builder import compose, interpret
from configurable_agents.builder.explain import describe_plan
from configurable_agents.config import config_from_data, input_fields


def graph(request: str) -> dict[str, Any]:
    """What a user sees of the built workflow: inputs, nodes, edges, routes."""
    config = config_from_data(compose(interpret(request)))
    routes = {
        node.id: ([(r.when.value, r.to) for r in node.routes], node.default)
        for node in config.nodes
        if node.kind == "router"
    }
    return {
        "inputs": [field.name for field in input_fields(config)],
        "nodes": [(node.id, getattr(node, "tool", None) or node.kind) for node in config.nodes],
        "edges": [(edge.from_, edge.to) for edge in config.edges],
        "routes": routes,
        "config": config,
    }


def test_translate_into_two_languages_is_one_step_per_language_on_one_input() -> None:
    built = graph("Translate the text into German and Spanish")

    assert built["inputs"] == ["text"]
    assert built["nodes"] == [("translate_german", "llm"), ("translate_spanish", "llm")]
    assert built["edges"] == [
        ("START", "translate_german"),
        ("translate_german", "translate_spanish"),
        ("translate_spanish", "END"),
    ]
    german = built["config"].get_node("translate_german")
    assert german.prompt.startswith("Translate the text into German.")
    assert "Spanish" not in german.prompt and "{text}" in german.prompt


def test_summarize_unless_short_checks_the_length_and_routes() -> None:
    built = graph("Summarize the text unless it is short")

    assert built["inputs"] == ["text"]
    assert built["nodes"] == [("check_short", "llm"), ("route", "router"), ("summarize", "llm")]
    assert built["edges"] == [
        ("START", "check_short"),
        ("check_short", "route"),
        ("summarize", "END"),
    ]
    assert built["routes"] == {"route": ([("no", "summarize")], "END")}
    assert built["config"].state["is_short"].values == ["yes", "no"]


def test_given_a_url_fetch_and_summarize_is_an_http_request_then_a_summary() -> None:
    built = graph("Given a URL, fetch the page and summarize it")

    assert built["inputs"] == ["url"]
    assert built["nodes"] == [("fetch", "http_request"), ("summarize", "llm")]
    assert built["edges"] == [("START", "fetch"), ("fetch", "summarize"), ("summarize", "END")]
    fetch = built["config"].get_node("fetch")
    assert fetch.args.url == "{url}" and fetch.output == "page"
    summarize = built["config"].get_node("summarize")
    assert summarize.prompt.startswith("Summarize the page.") and "{page}" in summarize.prompt


def test_classify_and_route_bugs_is_an_enum_and_a_router() -> None:
    request = "Classify the ticket as bug, feature or question and route bugs to an engineer"
    built = graph(request)

    assert built["inputs"] == ["ticket"]
    assert built["nodes"] == [("classify", "llm"), ("route", "router"), ("to_engineer", "llm")]
    assert built["edges"] == [
        ("START", "classify"),
        ("classify", "route"),
        ("to_engineer", "END"),
    ]
    assert built["routes"] == {"route": ([("bug", "to_engineer")], "END")}
    assert built["config"].state["category"].values == ["bug", "feature", "question"]
    plan = interpret(request)
    said = [*plan.understood, *plan.guessed]
    assert "I made 'route' a router with branches bug / feature / question" in said
    assert "I guessed the input 'ticket'" in said


def test_the_plan_is_shown_step_by_step_with_what_each_reads_and_writes() -> None:
    shown = describe_plan(interpret("Given a URL, fetch the page and summarize it"))

    assert shown.splitlines()[:2] == [
        "1. `fetch` (http_request) reads `url`, writes `page`",
        "2. `summarize` (llm) reads `page`, writes `summary`",
    ]
    assert shown.endswith("Inputs: `url` (str).")


def test_a_repeat_without_a_bound_asks_how_many_rounds() -> None:
    plan = interpret("Write a poem about the sea and review it until it is good")

    assert plan.loop is not None and plan.loop.max_iterations == 3
    assert plan.question is not None and plan.question.text == "How many rounds at most?"
    assert [c.edit for c in plan.question.choices] == [
        "loop at most 3 times",
        "loop at most 5 times",
        "loop at most 10 times",
    ]


def test_sending_without_an_approval_asks_whether_a_person_approves() -> None:
    plan = interpret("Draft a reply to the email and send it to Slack")

    assert [s.kind for s in plan.steps()] == ["llm", "http_request"]
    assert plan.question is not None
    assert plan.question.choices[0].edit == "ask me before sending"
