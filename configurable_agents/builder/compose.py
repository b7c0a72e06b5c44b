"""Turn a plan into workflow config data: state, nodes, edges, routers, parallel groups
and the loop node. The same code for a plan made by rules, by a model, or lifted from a
config and edited.

The result is plain data (what YAML would load to); ``config_from_data`` validates it.
"""

from __future__ import annotations

import copy
from typing import Any

from configurable_agents.builder.plan import Block, Plan, Router, Step
from configurable_agents.builder.text import label, slug

# Offline workflows run on the small local model: short answers keep runs quick.
OFFLINE_MAX_TOKENS = 128
# Stands for "the first node of whatever comes next" until the next block is known.
_NEXT = "\0next"


def prompt_for(step: Step, instruction: str | None = None) -> str:
    """The prompt of an llm-like step: the instruction, then each field it reads."""
    lines = [instruction or step.instruction, ""]
    for name in step.reads:
        if name == "feedback":
            continue
        lines.append(f"{label(name)}: {{{name}}}")
    if "feedback" in step.reads:
        lines.append("Feedback to address, if any: {feedback}")
    return "\n".join(lines).strip()


def node_data(step: Step) -> dict[str, Any]:
    """The config data of one step's node (the lifted node when the step kept it)."""
    if step.node is not None:
        return copy.deepcopy(step.node)
    node: dict[str, Any] = {"id": step.id}
    if step.kind in ("llm", "review", "classify"):
        node["kind"] = "llm"
        node["prompt"] = prompt_for(step)
        if len(step.writes) == 1:
            node["output"] = step.writes[0]
        else:
            node["outputs"] = list(step.writes)
        if step.kind in ("review", "classify"):
            node["llm"] = {"temperature": 0.1}
        return node
    if step.kind == "approval":
        shown = step.reads[0] if step.reads else None
        message = step.instruction or "Approve?"
        if shown:
            message = f"{message}\n\n{{{shown}}}"
        node.update(kind="approval", message=message)
        if step.writes:
            node["feedback"] = step.writes[0]
        if step.args.get("on_reject"):
            node["on_reject"] = step.args["on_reject"]
        return node
    node["kind"] = "tool"
    node["tool"] = step.kind
    if step.kind == "http_request":
        args: dict[str, Any] = {"url": step.args["url"], "timeout": 10}
        if step.args.get("method", "GET") != "GET":
            args["method"] = step.args["method"]
            args["body"] = step.args.get("body", "")
        node["args"] = args
    elif step.kind == "file_read":
        node["args"] = {"path": step.args["path"]}
    elif step.kind == "file_write":
        node["args"] = {"path": step.args["path"], "content": step.args["content"]}
    elif step.kind == "calculator":
        node["args"] = {"expression": step.args["expression"]}
    else:
        node["args"] = {"timezone": "UTC"}
    if step.writes:
        node["output"] = step.writes[0]
    return node


def workflow_name(plan: Plan) -> str:
    """A name from the verbs of the steps: summarize-and-translate, write-review-save."""
    verbs = list(dict.fromkeys(step.does for step in plan.steps())) or ["workflow"]
    text = " and ".join(verbs) if len(verbs) == 2 else " ".join(verbs[:5])
    return slug(text)


def description(plan: Plan) -> str:
    """The request in the user's words, as one tidy sentence; a lifted or edited plan's
    description as it is."""
    if not plan.request:
        return plan.description
    text = " ".join((plan.description or plan.request).split())
    if len(text) > 200:
        text = text[:197].rsplit(" ", 1)[0] + "..."
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "...")) else text + "."


def _first(block: Block) -> str:
    return block.id


class _Graph:
    """Nodes and edges as they are laid out; targets of "what comes next" are resolved
    when the next block is placed."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, str]] = []
        # Node ids whose plain edge goes to the next block.
        self.open: list[str] = ["START"]

    def connect(self, target: str) -> None:
        """Plain edges from every open node to ``target``."""
        for source in self.open:
            self.edges.append({"from": source, "to": target})
        self.open = []

    def chain(self, steps: list[Step]) -> list[str]:
        """Lay out steps one after another; the ids left open at the end."""
        for step in steps:
            self.nodes.append(node_data(step))
            self.connect(step.id)
            self.open = [step.id]
        return self.open

    def resolve(self, target: str) -> None:
        """``target`` is what comes next: placeholders and open nodes go to it."""
        for node in self.nodes:
            for key in ("default", "exit", "join", "on_reject"):
                if node.get(key) == _NEXT:
                    node[key] = target
            for route in node.get("routes", []):
                if route["to"] == _NEXT:
                    route["to"] = target
        self.connect(target)


def compose(plan: Plan, *, name: str | None = None, offline: bool = True) -> dict[str, Any]:
    """Config data for a plan (validate it with ``config_from_data``)."""
    graph = _Graph()
    loop = plan.loop
    for block in plan.blocks:
        graph.resolve(_first(block))
        if isinstance(block, Step):
            graph.chain([block])
        elif isinstance(block, Router):
            routes = []
            open_ends: list[str] = []
            for route in block.routes:
                target = route.steps[0].id if route.steps else "END" if route.stop else _NEXT
                routes.append(
                    {"when": {"field": block.field, "op": "eq", "value": route.value}, "to": target}
                )
            default = block.otherwise[0].id if block.otherwise else _NEXT
            graph.nodes.append(
                {"id": block.id, "kind": "router", "routes": routes, "default": default}
            )
            for route in block.routes:
                graph.open = []
                ends = graph.chain(route.steps)
                if route.stop and route.steps:
                    # A branch that ends the run: its last step goes to END.
                    graph.edges += [{"from": end, "to": "END"} for end in ends]
                else:
                    open_ends += ends
            graph.open = []
            open_ends += graph.chain(block.otherwise)
            graph.open = open_ends
        else:
            graph.nodes.append(
                {
                    "id": block.id,
                    "kind": "parallel",
                    "branches": [s.id for s in block.branches],
                    "join": _NEXT,
                }
            )
            graph.open = []
            for step in block.branches:
                graph.nodes.append(node_data(step))
            graph.open = [step.id for step in block.branches]
        if loop is not None and loop.after in graph.open:
            graph.open.remove(loop.after)
            loop_node: dict[str, Any] = {
                "id": loop.id,
                "kind": "loop",
                "body": loop.body,
                "max_iterations": loop.max_iterations,
                "exit": _NEXT,
            }
            if loop.while_field and loop.threshold is not None:
                loop_node["while"] = {
                    "field": loop.while_field,
                    "op": "lt",
                    "value": loop.threshold,
                }
            graph.nodes.append(loop_node)
            graph.edges.append({"from": loop.after, "to": loop.id})
    graph.resolve("END")
    state = {spec.name: spec.to_data() for spec in _ordered_fields(plan)}
    data: dict[str, Any] = {
        "schema_version": 1,
        "name": name or plan.name or workflow_name(plan),
        "description": description(plan),
        "state": state,
    }
    data.update(copy.deepcopy(plan.extra))
    if offline and "llm" not in data:
        data["llm"] = {"max_tokens": OFFLINE_MAX_TOKENS}
    data["nodes"] = graph.nodes
    data["edges"] = _dedupe(graph.edges)
    return data


def _dedupe(edges: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for edge in edges:
        key = (edge["from"], edge["to"])
        if key not in seen:
            seen.add(key)
            kept.append(edge)
    return kept


def _ordered_fields(plan: Plan) -> list[Any]:
    inputs = plan.inputs
    return inputs + [spec for spec in plan.fields.values() if spec not in inputs]
