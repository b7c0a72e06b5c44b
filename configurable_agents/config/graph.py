"""The workflow as a directed graph: every transition, where it is declared, and the graph
walks validation needs (reachability, ancestors, cycles)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from configurable_agents.config.names import END, START
from configurable_agents.config.schema import (
    AnyNode,
    ApprovalNode,
    Edge,
    Loc,
    LoopNode,
    ParallelNode,
    RouterNode,
    WorkflowConfig,
)

# Transition kinds: "edge" (plain edge), "route" and "default" (router), "body" and "exit"
# (loop), "branch" (parallel), "reject" (approval rejected; its plain edge is the approve).
BOUNDED_KINDS = ("body", "reject")


@dataclass(frozen=True)
class Transition:
    """A way the run can go from ``source`` to ``target``; ``path`` is where it is declared."""

    source: str
    target: str
    kind: str
    label: str
    path: Loc


def node_transitions(index: int, node: AnyNode) -> list[Transition]:
    """The transitions a node declares itself (routes, loop body/exit, branches, reject)."""
    at: Loc = ("nodes", index)
    found: list[Transition] = []
    if isinstance(node, RouterNode):
        for number, route in enumerate(node.routes):
            found.append(
                Transition(
                    node.id, route.to, "route", route.when.describe(), (*at, "routes", number, "to")
                )
            )
        found.append(Transition(node.id, node.default, "default", "default", (*at, "default")))
    elif isinstance(node, LoopNode):
        label = f"again (max {node.max_iterations})"
        if node.while_ is not None:
            label = f"while {node.while_.describe()} (max {node.max_iterations})"
        found.append(Transition(node.id, node.body, "body", label, (*at, "body")))
        found.append(Transition(node.id, node.exit, "exit", "done", (*at, "exit")))
    elif isinstance(node, ParallelNode):
        for number, branch in enumerate(node.branches):
            found.append(Transition(node.id, branch, "branch", "branch", (*at, "branches", number)))
    elif isinstance(node, ApprovalNode):
        target = node.on_reject or END
        path = (*at, "on_reject") if node.on_reject else at
        found.append(Transition(node.id, target, "reject", "rejected", path))
    return found


def edge_transition(index: int, edge: Edge) -> Transition:
    """The transition a plain edge declares."""
    return Transition(edge.from_, edge.to, "edge", "", ("edges", index))


def build_transitions(
    nodes: Iterable[tuple[int, AnyNode]], edges: Iterable[tuple[int, Edge]]
) -> list[Transition]:
    """Every transition of these (index, node) and (index, edge) pairs."""
    found = [edge_transition(index, edge) for index, edge in edges]
    for index, node in nodes:
        found.extend(node_transitions(index, node))
    return found


def transitions(config: WorkflowConfig) -> list[Transition]:
    """Every transition of a workflow: plain edges first, then what nodes declare."""
    return build_transitions(enumerate(config.nodes), enumerate(config.edges))


def successors(found: Iterable[Transition]) -> dict[str, list[str]]:
    """Each source's targets, in declaration order."""
    graph: dict[str, list[str]] = defaultdict(list)
    for transition in found:
        if transition.target not in graph[transition.source]:
            graph[transition.source].append(transition.target)
    return graph


def reachable(graph: dict[str, list[str]], start: str, *, stop: str | None = None) -> set[str]:
    """Every name reachable from ``start`` (``start`` included); the walk does not go on
    past ``stop`` (which is included when reached)."""
    seen = {start}
    stack = [start]
    while stack:
        for target in graph.get(stack.pop(), []):
            if target not in seen:
                seen.add(target)
                if target != stop:
                    stack.append(target)
    return seen


def reverse(graph: dict[str, list[str]]) -> dict[str, list[str]]:
    """The graph with every transition turned around."""
    turned: dict[str, list[str]] = defaultdict(list)
    for source, targets in graph.items():
        for target in targets:
            turned[target].append(source)
    return turned


def ancestors(turned: dict[str, list[str]], name: str) -> set[str]:
    """Every name from which ``name`` can be reached (``name`` itself only in a cycle)."""
    seen: set[str] = set()
    stack = list(turned.get(name, []))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(turned.get(current, []))
    return seen


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each a list of names (iterative)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    names = list(dict.fromkeys([*graph, *(t for ts in graph.values() for t in ts)]))
    for root in names:
        if root in index_of:
            continue
        work = [(root, 0)]
        while work:
            name, position = work.pop()
            if position == 0:
                index_of[name] = low[name] = counter
                counter += 1
                stack.append(name)
                on_stack.add(name)
            targets = graph.get(name, [])
            if position < len(targets):
                work.append((name, position + 1))
                target = targets[position]
                if target not in index_of:
                    work.append((target, 0))
                elif target in on_stack:
                    low[name] = min(low[name], index_of[target])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
            if low[name] == index_of[name]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == name:
                        break
                components.append(component)
    return components


def unbounded_cycles(found: list[Transition]) -> list[tuple[list[str], Transition]]:
    """Cycles that no loop node bounds: each as its nodes and one transition closing it.

    A loop's ``body`` transition bounds its cycle (max_iterations); so does an approval's
    ``reject`` (a person decides each pass). Any other cycle could run forever.
    """
    free = [t for t in found if t.kind not in BOUNDED_KINDS and t.target != END]
    graph = successors(free)
    order = _preorder(graph, START)
    last = len(order)
    cycles = []
    for component in strongly_connected(graph):
        members = set(component)
        inside = [t for t in free if t.source in members and t.target in members]
        if len(component) > 1 or inside:
            # Report at the transition going back to where the run enters the cycle.
            entry = min(members, key=lambda name: order.get(name, last))
            back = [t for t in inside if t.target == entry] or inside
            closing = max(back, key=lambda t: (order.get(t.source, last), t.path[0] == "nodes"))
            cycles.append((sorted(members, key=lambda name: order.get(name, last)), closing))
    return cycles


def _preorder(graph: dict[str, list[str]], start: str) -> dict[str, int]:
    """Depth-first discovery order from ``start``, following declaration order."""
    order: dict[str, int] = {}
    stack = [start]
    while stack:
        name = stack.pop()
        if name in order:
            continue
        order[name] = len(order)
        stack.extend(reversed(graph.get(name, [])))
    return order
