"""A Mermaid flowchart of a workflow, for the CLI's ``graph`` command, the dashboard and chat."""

from __future__ import annotations

import re

from configurable_agents.config.graph import transitions
from configurable_agents.config.names import END, START
from configurable_agents.config.schema import AnyNode, ParallelNode, WorkflowConfig

_SAFE = re.compile(r"[A-Za-z0-9 _.,:=!?()+\-*/']")
# Mermaid shapes by node kind: (opening, closing).
_SHAPES = {
    "llm": ('["', '"]'),
    "tool": ('[["', '"]]'),
    "router": ('{"', '"}'),
    "loop": ('{{"', '"}}'),
    "parallel": ('[/"', '"/]'),
    "approval": ('>"', '"]'),
    "agent": ('[("', '")]'),
}
_ARROWS = {
    "edge": "-->",
    "route": "-->",
    "default": "-.->",
    "body": "-->",
    "exit": "-->",
    "branch": "==>",
    "reject": "-.->",
}


def _text(value: str) -> str:
    """Label text with every character Mermaid could read as syntax written as an entity."""
    return "".join(char if _SAFE.match(char) else f"#{ord(char)};" for char in value)


def _node_line(name: str, node: AnyNode) -> str:
    opening, closing = _SHAPES[node.kind]
    what = getattr(node, "tool", None) or node.kind
    return f"    {name}{opening}{_text(node.id)}<br/>{_text(what)}{closing}"


def to_mermaid(config: WorkflowConfig) -> str:
    """The workflow as a Mermaid ``flowchart TD`` (node ids are replaced by safe names)."""
    names = {START: "start", END: "stop"}
    lines = ["flowchart TD", '    start(("START"))', '    stop(("END"))']
    for index, node in enumerate(config.nodes):
        names.setdefault(node.id, f"n{index}")
        lines.append(_node_line(f"n{index}", node))
    approvals = {node.id for node in config.nodes if node.kind == "approval"}
    for transition in transitions(config):
        source, target = names.get(transition.source), names.get(transition.target)
        if source is None or target is None:
            continue
        label = transition.label
        if transition.kind == "edge" and transition.source in approvals:
            label = "approved"
        shown = f'|"{_text(label)}"|' if label and transition.kind != "branch" else ""
        lines.append(f"    {source} {_ARROWS[transition.kind]}{shown} {target}")
    for node in config.nodes:
        if isinstance(node, ParallelNode) and node.join in names:
            lines.append(f'    {names[node.id]} -.-|"join"| {names[node.join]}')
    return "\n".join(lines) + "\n"
