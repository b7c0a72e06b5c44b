"""The plan a capable model writes as JSON: read into the same Plan the rules make, and
composed by the same code (routers, parallel groups, loops); what cannot be read is said."""

from __future__ import annotations

import pytest

from configurable_agents.builder import compose
from configurable_agents.builder.plan import PlanError, plan_from_json
from configurable_agents.config import config_from_data


def test_a_plan_with_a_router_a_parallel_group_and_a_loop_composes_to_its_graph() -> None:
    data = {
        "inputs": [{"name": "ticket", "type": "str"}],
        "steps": [
            {
                "id": "classify",
                "kind": "classify",
                "does": "classify",
                "instruction": "Sort it.",
                "reads": ["ticket"],
                "writes": ["category"],
                "values": ["bug", "question"],
            },
            {
                "id": "escalate",
                "kind": "http_request",
                "does": "send",
                "url": "{hook}",
                "method": "POST",
                "reads": ["ticket"],
            },
            {
                "id": "tone",
                "kind": "llm",
                "does": "analyze",
                "reads": ["ticket"],
                "writes": ["tone"],
            },
            {
                "id": "topic",
                "kind": "llm",
                "does": "analyze",
                "reads": ["ticket"],
                "writes": ["topic"],
            },
            {
                "id": "draft",
                "kind": "llm",
                "does": "draft",
                "reads": ["ticket", "tone", "topic"],
                "writes": ["reply"],
            },
            {"id": "review", "kind": "review", "does": "review", "reads": ["reply"]},
        ],
        "routers": [{"after": "classify", "field": "category", "routes": {"bug": "escalate"}}],
        "parallel": [["tone", "topic"]],
        "loop": {"body": "draft", "after": "review", "max_iterations": 4},
    }
    data["inputs"].append({"name": "hook", "type": "str"})

    config = config_from_data(compose(plan_from_json(data, "triage"), offline=False))

    assert [(n.id, n.kind) for n in config.nodes] == [
        ("classify", "llm"),
        ("route", "router"),
        ("escalate", "tool"),
        ("parallel", "parallel"),
        ("tone", "llm"),
        ("topic", "llm"),
        ("draft", "llm"),
        ("review", "llm"),
        ("repeat", "loop"),
    ]
    router = config.get_node("route")
    assert [(r.when.value, r.to) for r in router.routes] == [("bug", "escalate")]  # type: ignore[union-attr]
    assert router.default == "parallel"  # type: ignore[union-attr]
    assert config.get_node("parallel").join == "draft"  # type: ignore[union-attr]
    loop = config.get_node("repeat")
    assert (loop.body, loop.max_iterations, loop.while_.field) == ("draft", 4, "score")  # type: ignore[union-attr]
    assert config.state["category"].values == ["bug", "question"]


def test_what_a_plan_cannot_say_is_listed() -> None:
    with pytest.raises(PlanError) as caught:
        plan_from_json(
            {"steps": [{"id": "a", "kind": "dance"}, {"id": "b", "kind": "http_request"}]}, "x"
        )
    assert caught.value.problems == [
        "steps[0].kind: one of llm, review, classify, approval, http_request, file_read, "
        "file_write, calculator, current_time, not 'dance'",
        "steps[1].url: an http_request step needs the url (or {field})",
    ]
