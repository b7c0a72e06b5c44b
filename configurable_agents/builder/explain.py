"""Say in words what a config does: inputs, steps in order, loops, outputs."""

from __future__ import annotations

from configurable_agents.config import (
    ApprovalNode,
    LLMNode,
    LoopNode,
    ParallelNode,
    RouterNode,
    WorkflowConfig,
    input_fields,
    transitions,
)

_OPS = {"eq": "=", "ne": "\u2260", "lt": "<", "lte": "\u2264", "gt": ">", "gte": "\u2265"}


def _node_line(config: WorkflowConfig, node: object) -> str:
    if isinstance(node, LLMNode):
        reads = sorted({use.field.split(".")[0] for use in node.reads()})
        source = f" from {', '.join(f'`{name}`' for name in reads)}" if reads else ""
        return (
            f"asks the model{source} and writes {', '.join(f'`{n}`' for n in node.output_fields)}"
        )
    if isinstance(node, LoopNode):
        condition = ""
        if node.while_ is not None:
            op = _OPS.get(node.while_.op, node.while_.op)
            value = "" if node.while_.value is None else f" {node.while_.value!r}"
            condition = f" while `{node.while_.field}` {op}{value}"
        return (
            f"goes back to `{node.body}`{condition}, at most {node.max_iterations} times, "
            f"then on to `{node.exit}`"
        )
    if isinstance(node, ApprovalNode):
        reject = f"; a rejection goes to `{node.on_reject}`" if node.on_reject else ""
        return f"waits for a person to approve{reject}"
    if isinstance(node, RouterNode):
        targets = ", ".join(f"`{route.to}`" for route in node.routes)
        return f"chooses between {targets}, else `{node.default}`"
    if isinstance(node, ParallelNode):
        return f"runs {', '.join(f'`{b}`' for b in node.branches)} at once, then `{node.join}`"
    tool = getattr(node, "tool", None)
    output = getattr(node, "output", None)
    if tool:
        return f"runs the {tool} tool" + (f" into `{output}`" if output else "")
    return f"calls the remote agent into `{output}`" if output else "runs"


def explain(config: WorkflowConfig) -> str:
    """Markdown: what goes in, what happens in which order, what comes out."""
    lines = [f"**{config.name}**" + (f": {config.description}" if config.description else "")]
    fields = input_fields(config)
    if fields:
        shown = []
        for field in fields:
            need = "required" if field.required else f"default {field.default!r}"
            shown.append(f"`{field.name}` ({field.type}, {need})")
        lines.append("Inputs: " + ", ".join(shown) + ".")
    else:
        lines.append("Inputs: none.")
    lines.append("")
    for index, node in enumerate(config.nodes, start=1):
        lines.append(f"{index}. `{node.id}` ({node.kind}) {_node_line(config, node)}.")
    first = [t.target for t in transitions(config) if t.source == "START"]
    if first:
        lines.append("")
        lines.append(f"A run starts at `{first[0]}`.")
    return "\n".join(lines)


def step_chain(config: WorkflowConfig) -> str:
    """The node ids in order: summarize -> translate."""
    return " \u2192 ".join(node.id for node in config.nodes)
