"""Say in words what a config does: inputs, steps in order, loops, outputs."""

from __future__ import annotations

from configurable_agents.builder.plan import Plan, Router, Step
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


def _fields(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) or "nothing"


def _step_line(step: Step) -> str:
    kind = step.kind if step.kind not in ("review", "classify") else f"llm, {step.kind}"
    return f"`{step.id}` ({kind}) reads {_fields(step.reads)}, writes {_fields(step.writes)}"


def describe_plan(plan: Plan) -> str:
    """Markdown: the plan as numbered steps, each with its kind and what it reads and
    writes; routers with their branches; the loop."""
    lines: list[str] = []
    number = 0
    for block in plan.blocks:
        number += 1
        if isinstance(block, Step):
            lines.append(f"{number}. {_step_line(block)}")
        elif isinstance(block, Router):
            lines.append(f"{number}. `{block.id}` (router) on `{block.field}`:")
            for route in block.routes:
                shown = "; ".join(_step_line(step) for step in route.steps)
                if route.stop:
                    shown = f"{shown}, then the run stops" if shown else "the run stops"
                shown = shown or "goes on"
                lines.append(f"    - {route.value}: {shown}")
            if block.otherwise:
                shown = "; ".join(_step_line(step) for step in block.otherwise)
                lines.append(f"    - otherwise: {shown}")
        else:
            lines.append(f"{number}. `{block.id}` (parallel), at the same time:")
            lines += [f"    - {_step_line(step)}" for step in block.branches]
        loop = plan.loop
        if loop is not None and any(
            step.id == loop.after for step in ([block] if isinstance(block, Step) else [])
        ):
            condition = (
                f" while `{loop.while_field}` < {loop.threshold:g}"
                if loop.while_field and loop.threshold is not None
                else ""
            )
            number += 1
            lines.append(
                f"{number}. `{loop.id}` (loop) back to `{loop.body}`{condition}, "
                f"at most {loop.max_iterations} times"
            )
    inputs = ", ".join(f"`{spec.name}` ({spec.type})" for spec in plan.inputs) or "none"
    return "\n".join([*lines, "", f"Inputs: {inputs}."])
