"""The examples gallery: every workflow validates, round-trips, and together they use
every node kind; the release step reads the same name and description."""

from __future__ import annotations

from pathlib import Path

import pytest

from configurable_agents.config import (
    NODE_KINDS,
    config_to_yaml,
    input_fields,
    load_config,
    to_mermaid,
    validate_text,
)
from configurable_agents.config.schema import TOOL_NODE_NAMES
from configurable_agents.release import EXAMPLES_DIR, example_files, read_example

EXAMPLES = example_files()


def test_there_are_at_least_eight_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_is_valid_and_round_trips(path: Path) -> None:
    config = load_config(path)
    assert validate_text(path.read_text(encoding="utf-8"), path.name) == []
    assert load_config(config_to_yaml(config)) == config
    # The release step seeds it by the same name and description.
    name, description, _ = read_example(path)
    assert (name, description) == (config.name, config.description)
    assert description


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_has_a_comment_header_and_small_outputs(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines[:6] if line.startswith("# ")]
    assert len(header) >= 2, "start with a comment saying what the example shows"
    assert any("Shows:" in line for line in header)
    config = load_config(path)
    # Runs offline on the small local model: short answers only.
    limits = [config.llm.max_tokens] + [
        node.llm.max_tokens
        for node in config.nodes
        if getattr(node, "llm", None) and node.llm.max_tokens
    ]
    assert config.llm.provider is None, (
        "examples use whatever provider is configured (local by default)"
    )
    assert all(limit is not None and limit <= 128 for limit in limits)


def test_examples_have_unique_names() -> None:
    names = [load_config(path).name for path in EXAMPLES]
    assert len(set(names)) == len(names)


def test_examples_use_every_node_kind_and_tool() -> None:
    kinds: set[str] = set()
    tools: set[str] = set()
    for path in EXAMPLES:
        for node in load_config(path).nodes:
            kinds.add(node.kind)
            if node.kind == "tool":
                tools.add(node.tool)
    assert kinds == set(NODE_KINDS)
    assert tools == set(TOOL_NODE_NAMES)


def test_examples_use_memory_and_schedules() -> None:
    configs = [load_config(path) for path in EXAMPLES]
    assert any(config.memory for config in configs)
    assert any(config.schedules for config in configs)


def test_agent_example_calls_remote_summarizer() -> None:
    config = load_config(EXAMPLES_DIR / "remote_agent.yaml")
    agents = [node.agent for node in config.nodes if node.kind == "agent"]
    assert agents == ["remote-summarizer"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_graph_and_inputs(path: Path) -> None:
    config = load_config(path)
    graph = to_mermaid(config)
    assert graph.startswith("flowchart TD\n")
    for node in config.nodes:
        assert f'"{node.id}<br/>' in graph
    # Every example can be started from a form: it has at least one input.
    assert input_fields(config)
