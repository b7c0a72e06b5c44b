"""A config back into a plan, so that a change in words is an edit of the plan.

Each node becomes a step that keeps its node data as it was; routers, parallel groups and
the loop become the plan's blocks. ``compose(lift(config))`` gives the same graph. A
config whose shape a plan cannot hold (a back edge outside a loop node, a router on more
than one field, two loops) lifts to None.
"""

from __future__ import annotations

import copy
from typing import Any

from configurable_agents.builder.plan import Field, Loop, Parallel, Plan, Route, Router, Step
from configurable_agents.config import END, START, WorkflowConfig, config_to_data

_GRAPH_KEYS = ("schema_version", "name", "description", "state", "nodes", "edges")


class _Shape(Exception):
    """The config has a shape the plan cannot hold."""


def _kind(node: dict[str, Any], state: dict[str, Any]) -> str:
    if node["kind"] == "tool":
        return str(node["tool"])
    if node["kind"] == "llm":
        outputs = [node["output"]] if node.get("output") else node.get("outputs", [])
        if "score" in outputs:
            return "review"
        if len(outputs) == 1 and state.get(outputs[0], {}).get("type") == "enum":
            return "classify"
        return "llm"
    return str(node["kind"])


def _does(ident: str) -> str:
    return ident.split("_")[0]


def lift(config: WorkflowConfig) -> Plan | None:
    """The plan of a config, or None when its shape is beyond a plan."""
    data = config_to_data(config)
    try:
        return _Lifter(config, data).plan()
    except _Shape:
        return None


class _Lifter:
    def __init__(self, config: WorkflowConfig, data: dict[str, Any]) -> None:
        self.data = data
        self.nodes = {node["id"]: node for node in data["nodes"]}
        self.models = {node.id: node for node in config.nodes}
        self.out: dict[str, list[str]] = {}
        for edge in data["edges"]:
            self.out.setdefault(edge["from"], []).append(edge["to"])
        self.seen: set[str] = set()

    def next_of(self, ident: str) -> str:
        """The one node a plain edge leads to from ``ident``."""
        targets = self.out.get(ident, [])
        if len(targets) != 1:
            raise _Shape(ident)
        return targets[0]

    def step(self, ident: str) -> Step:
        """The step of a node that does work, keeping its node data."""
        if ident in self.seen or ident not in self.nodes:
            raise _Shape(ident)
        node = self.nodes[ident]
        if node["kind"] in ("router", "parallel", "loop"):
            raise _Shape(ident)
        if node.get("on_reject") not in (None, END):
            raise _Shape(ident)
        self.seen.add(ident)
        model = self.models[ident]
        reads = list(dict.fromkeys(use.field.split(".")[0] for use in model.reads()))
        writes = [use.field for use in model.writes() if use.loc[:1] != ("memory",)]
        text = str(node.get("prompt") or node.get("message") or "").split("\n")[0]
        step = Step(ident, _kind(node, self.data["state"]), _does(ident), text, reads, writes)
        step.node = copy.deepcopy(node)
        if node["kind"] == "tool":
            step.args = copy.deepcopy(node.get("args") or {})
        return step

    def chain(self, ident: str, stop: set[str]) -> tuple[list[Step], str]:
        """Plain steps from ident until a node in ``stop``, END, or a structural node."""
        steps: list[Step] = []
        while ident != END and ident not in stop:
            if self.nodes[ident]["kind"] in ("router", "parallel", "loop"):
                break
            steps.append(self.step(ident))
            ident = self.next_of(ident)
        return steps, ident

    def reach(self, ident: str) -> list[str]:
        """The plain path from a node (for finding where branches meet)."""
        path = []
        while ident != END and ident not in path and ident in self.nodes:
            path.append(ident)
            if self.nodes[ident]["kind"] != "llm" and self.nodes[ident]["kind"] not in (
                "tool",
                "approval",
                "agent",
            ):
                break
            targets = self.out.get(ident, [])
            if len(targets) != 1:
                break
            ident = targets[0]
        return [*path, END]

    def plan(self) -> Plan:
        """Walk the graph from START: steps, routers, parallel groups, the loop."""
        data = self.data
        fields = {
            name: Field(
                name,
                spec["type"],
                spec.get("description", ""),
                bool(spec.get("required", False)),
                spec.get("default"),
                spec.get("values"),
            )
            for name, spec in data["state"].items()
        }
        extra = {key: copy.deepcopy(value) for key, value in data.items() if key not in _GRAPH_KEYS}
        plan = Plan(
            request="",
            fields=fields,
            name=data["name"],
            description=data.get("description", ""),
            extra=extra,
        )
        previous: str | None = None
        current = self.next_of(START)
        while current != END:
            node = self.nodes.get(current)
            if node is None or current in self.seen:
                raise _Shape(current)
            kind = node["kind"]
            if kind == "loop":
                if plan.loop is not None or previous is None:
                    raise _Shape(current)
                self.seen.add(current)
                condition = node.get("while")
                if condition is not None and condition.get("op") != "lt":
                    raise _Shape(current)
                plan.loop = Loop(
                    node["body"],
                    previous,
                    node["max_iterations"],
                    condition["field"] if condition else None,
                    condition["value"] if condition else None,
                    id=current,
                )
                current = node["exit"]
                continue
            if kind == "router":
                current = self.router(plan, node)
                previous = None
                continue
            if kind == "parallel":
                self.seen.add(current)
                branches = [self.step(branch) for branch in node["branches"]]
                if any(self.out.get(b.id) != [node["join"]] for b in branches):
                    raise _Shape(current)
                plan.blocks.append(Parallel(current, branches))
                current = node["join"]
                previous = None
                continue
            plan.blocks.append(self.step(current))
            previous = current
            current = self.next_of(current)
        if set(self.nodes) - self.seen:
            raise _Shape("unreached")
        return plan

    def router(self, plan: Plan, node: dict[str, Any]) -> str:
        """A router's branches up to where they meet; returns where they meet."""
        self.seen.add(node["id"])
        conditions = [route["when"] for route in node["routes"]]
        fields = {condition["field"] for condition in conditions}
        if len(fields) != 1 or any(c.get("op") != "eq" for c in conditions):
            raise _Shape(node["id"])
        targets = [route["to"] for route in node["routes"]] + [node["default"]]
        paths = [self.reach(target) for target in targets]
        # Where the branches meet: the first node of the default's path every path reaches.
        meet = next(ident for ident in paths[-1] if all(ident in path for path in paths))
        router = Router(node["id"], fields.pop())
        for route, target in zip(node["routes"], targets, strict=False):
            steps, end = self.chain(target, {meet})
            if end not in (meet, END):
                raise _Shape(node["id"])
            stop = target == END and meet != END
            router.routes.append(Route(str(route["when"]["value"]), steps, stop=stop))
        router.otherwise, end = self.chain(node["default"], {meet})
        if end != meet:
            raise _Shape(node["id"])
        plan.blocks.append(router)
        return meet
