"""Checks that span several parts of a config: the graph, state references, memory, schedules.

They run on the parts that passed the pydantic models, so a config with a broken node
still gets its other problems reported; a check that needs a broken part is skipped
rather than guessing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from configurable_agents.config.conditions import LIST_OPS, ORDER_OPS, Condition
from configurable_agents.config.graph import (
    Transition,
    ancestors,
    build_transitions,
    reachable,
    reverse,
    successors,
    unbounded_cycles,
)
from configurable_agents.config.inputs import input_names
from configurable_agents.config.mcp import shared_servers
from configurable_agents.config.names import END, START
from configurable_agents.config.schema import (
    AnyNode,
    Edge,
    Loc,
    LoopNode,
    McpToolNode,
    MemoryConfig,
    ParallelNode,
    RouterNode,
    Schedule,
    StateField,
    WorkflowConfig,
)
from configurable_agents.config.state import Typed, resolve_path_type

PLAIN_KINDS = ("llm", "tool", "agent", "approval")
_OWN_TARGETS = {"router": "routes and default", "loop": "body and exit", "parallel": "branches"}


@dataclass(frozen=True)
class Finding:
    """A problem at a data path; ``at_key`` points at the key rather than its value."""

    path: Loc
    message: str
    at_key: bool = False


@dataclass
class Parts:
    """The parts of a config that are valid on their own; flags say what is complete."""

    state: dict[str, StateField] | None
    nodes: list[tuple[int, AnyNode]]
    edges: list[tuple[int, Edge]]
    memory: MemoryConfig | None = None
    schedules: list[tuple[int, Schedule]] = field(default_factory=list)
    # The MCP servers the workflow declares (None: the declarations are broken, skip checks).
    mcp_servers: set[str] | None = field(default_factory=set)
    nodes_complete: bool = True
    edges_complete: bool = True
    memory_ok: bool = True
    # Ids of nodes that failed their own validation, and whether one had no readable id.
    broken_ids: set[str] = field(default_factory=set)
    unknown_broken: bool = False
    # State fields that failed their own validation: references to them are not checked.
    broken_fields: set[str] = field(default_factory=set)
    # Every readable node id with its index, valid node or not (for duplicate ids).
    ids: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def of(cls, config: WorkflowConfig) -> Parts:
        """The parts of a config that passed the models whole."""
        return cls(
            state=dict(config.state),
            nodes=list(enumerate(config.nodes)),
            edges=list(enumerate(config.edges)),
            memory=config.memory,
            schedules=list(enumerate(config.schedules)),
            mcp_servers=set(config.mcp_servers),
            ids=[(index, node.id) for index, node in enumerate(config.nodes)],
        )


def _hint(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _at(index: int, loc: Loc = ()) -> Loc:
    return ("nodes", index, *loc)


def _kind_label(node: AnyNode) -> str:
    tool = getattr(node, "tool", None)
    return f"{tool} tool" if tool else f"{node.kind} node"


class _Checker:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.found: list[Finding] = []
        self.index_of: dict[str, int] = {}
        self.nodes: dict[str, AnyNode] = {}

    def add(self, path: Loc, message: str, *, at_key: bool = False) -> None:
        self.found.append(Finding(path, message, at_key))

    # --- nodes and references ----------------------------------------------------------

    def check_ids(self) -> None:
        first: dict[str, int] = {}
        for index, node_id in self.parts.ids:
            if node_id in first:
                self.add(
                    _at(index, ("id",)),
                    f"duplicate node id '{node_id}' (first used by nodes[{first[node_id]}])",
                )
            else:
                first[node_id] = index
        for index, node in self.parts.nodes:
            if node.id not in self.index_of and first.get(node.id) == index:
                self.index_of[node.id] = index
                self.nodes[node.id] = node

    def known(self, name: str) -> bool:
        return (
            name in self.nodes
            or name in self.parts.broken_ids
            or self.parts.unknown_broken
            or name in (START, END)
        )

    def unknown(self, name: str) -> str:
        return f"unknown node '{name}'{_hint(name, self.nodes)}"

    def check_references(self, found: list[Transition]) -> None:
        for transition in found:
            if transition.kind == "edge":
                if not self.known(transition.source):
                    self.add((*transition.path, "from"), self.unknown(transition.source))
                if not self.known(transition.target):
                    self.add((*transition.path, "to"), self.unknown(transition.target))
            elif not self.known(transition.target):
                self.add(transition.path, self.unknown(transition.target))
        for index, node in self.parts.nodes:
            if isinstance(node, LoopNode) and node.body == node.id:
                self.add(
                    _at(index, ("body",)),
                    "a loop cannot be its own body: name the first node to repeat",
                )
            if isinstance(node, ParallelNode):
                self.check_parallel_shape(index, node)

    def check_parallel_shape(self, index: int, node: ParallelNode) -> None:
        if not self.known(node.join):
            self.add(_at(index, ("join",)), self.unknown(node.join))
        if node.join in (END, node.id):
            self.add(_at(index, ("join",)), "the join must be a node after the branches")
        seen: set[str] = set()
        for number, branch in enumerate(node.branches):
            if branch in seen:
                self.add(_at(index, ("branches", number)), f"branch '{branch}' is listed twice")
            seen.add(branch)
            if branch == node.join:
                self.add(
                    _at(index, ("branches", number)),
                    f"'{branch}' is the join, so it cannot be a branch",
                )
            elif branch in (END, node.id):
                self.add(_at(index, ("branches", number)), "a branch must be a node")

    def check_edges(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        first_edge: dict[str, tuple[int, str]] = {}
        for index, edge in self.parts.edges:
            key = (edge.from_, edge.to)
            if key in seen:
                self.add(
                    ("edges", index),
                    f"duplicate edge from '{edge.from_}' to '{edge.to}' "
                    f"(first at edges[{seen[key]}])",
                )
                continue
            seen[key] = index
            source = self.nodes.get(edge.from_)
            if source is not None and source.kind in _OWN_TARGETS:
                self.add(
                    ("edges", index),
                    f"'{source.id}' is a {source.kind} node: it chooses where to go with its "
                    f"{_OWN_TARGETS[source.kind]}; remove this edge",
                )
                continue
            if edge.from_ in first_edge:
                _, other = first_edge[edge.from_]
                advice = (
                    "a run starts at one node (use a parallel node to start several)"
                    if edge.from_ == START
                    else "use a router to choose between nodes, or a parallel node to run both"
                )
                self.add(
                    ("edges", index), f"'{edge.from_}' already has an edge to '{other}': {advice}"
                )
                continue
            first_edge[edge.from_] = (index, edge.to)
        if not self.parts.edges_complete:
            return
        if START not in first_edge:
            self.add(("edges",), "no edge from START: add {from: START, to: <first node>}")
        for index, node in self.parts.nodes:
            if (
                node.kind in PLAIN_KINDS
                and node.id not in first_edge
                and self.index_of.get(node.id) == index
            ):
                self.add(
                    _at(index),
                    f"node '{node.id}' has no outgoing edge: "
                    "add an edge from it to the next node or END",
                )

    # --- the graph ------------------------------------------------------------------------

    def check_graph(self, found: list[Transition]) -> None:
        graph = successors(found)
        from_start = reachable(graph, START)
        turned = reverse(graph)
        to_end = ancestors(turned, END)
        # Nodes with no way on, and unknown targets: both reported already.
        dead_ends = {
            node.id
            for node in self.nodes.values()
            if node.kind in PLAIN_KINDS and not graph.get(node.id)
        }
        dead_ends |= {t.target for t in found if not self.known(t.target)}
        reaches_dead_end = set(dead_ends)
        for name in dead_ends:
            reaches_dead_end |= ancestors(turned, name)
        for node_id, index in self.index_of.items():
            if node_id not in from_start:
                self.add(_at(index), f"node '{node_id}' is not reachable from START")
            elif node_id not in to_end and node_id not in reaches_dead_end:
                self.add(
                    _at(index),
                    f"node '{node_id}' cannot reach END: it is caught in a cycle with no way out",
                )
        for members, closing in unbounded_cycles(found):
            names = " -> ".join(members)
            self.add(
                closing.path,
                f"nodes {names} form a cycle that no loop node bounds: go back through a "
                "loop node (with max_iterations) instead",
            )
        for index, node in self.parts.nodes:
            if (
                isinstance(node, LoopNode)
                and node.body in self.nodes
                and node.body != node.id
                and node.id not in reachable(graph, node.body)
            ):
                self.add(
                    _at(index, ("body",)),
                    f"the body '{node.body}' never leads back to loop '{node.id}': "
                    "body is the first node of the part to repeat",
                )
            if isinstance(node, ParallelNode) and node.join in self.nodes:
                self.check_branches(index, node, graph)

    def check_branches(self, index: int, node: ParallelNode, graph: dict[str, list[str]]) -> None:
        owner: dict[str, str] = {}
        writer: dict[str, str] = {}
        for number, branch in enumerate(node.branches):
            if branch not in self.nodes or branch == node.join:
                continue
            at = _at(index, ("branches", number))
            members = reachable(graph, branch, stop=node.join)
            if node.join not in members:
                self.add(at, f"branch '{branch}' never reaches the join '{node.join}'")
            if END in members:
                self.add(
                    at,
                    f"branch '{branch}' can reach END without passing through "
                    f"the join '{node.join}'",
                )
            inside = members - {node.join, END}
            self.claim(
                at,
                owner,
                inside,
                branch,
                "node '{name}' is in branches '{other}' and '{branch}': "
                "each branch needs its own nodes",
            )
            written = {
                use.field
                for member in inside & set(self.nodes)
                for use in self.nodes[member].writes()
            }
            self.claim(
                at,
                writer,
                written,
                branch,
                "branches '{other}' and '{branch}' both write '{name}': "
                "parallel branches must write different state fields",
            )

    def claim(
        self, at: Loc, claims: dict[str, str], names: set[str], branch: str, message: str
    ) -> None:
        """Record that ``branch`` owns ``names``; one already owned by another branch is a
        problem, told by ``message`` (formatted with name, other and branch)."""
        for name in sorted(names):
            other = claims.setdefault(name, branch)
            if other != branch:
                self.add(at, message.format(name=name, other=other, branch=branch))

    # --- state ----------------------------------------------------------------------------

    def resolve(self, path: Loc, dotted: str) -> Typed | None:
        state = self.parts.state or {}
        head = dotted.split(".")[0]
        if head in self.parts.broken_fields:
            return None
        typed = resolve_path_type(state, dotted)
        if isinstance(typed, str):
            extra = f"{_hint(head, state)}; declare it under state" if head not in state else ""
            self.add(path, f"{typed}{extra}")
            return None
        return typed

    def check_state(self) -> None:
        state = self.parts.state or {}
        for index, node in self.parts.nodes:
            for use in node.reads():
                typed = self.resolve(_at(index, use.loc), use.field)
                if typed is None:
                    continue
                if use.types and typed.expr.name not in use.types:
                    self.add(
                        _at(index, use.loc),
                        f"the {_kind_label(node)} reads {' or '.join(use.types)}, "
                        f"but '{use.field}' is {typed.expr}",
                    )
                condition = self.condition_of(node, use.loc)
                if condition is not None:
                    self.check_condition(_at(index, use.loc[:-1]), condition, typed)
            for use in node.writes():
                at = _at(index, use.loc)
                if use.field in self.parts.broken_fields:
                    continue
                if use.field not in state:
                    self.add(
                        at,
                        f"'{use.field}' is not a state field{_hint(use.field, state)}: "
                        "declare it under state",
                    )
                elif use.types and state[use.field].expr.name not in use.types:
                    kinds = " or ".join(use.types)
                    self.add(
                        at,
                        f"the {_kind_label(node)} writes {kinds}, "
                        f"but state field '{use.field}' is {state[use.field].type}",
                    )

    def condition_of(self, node: AnyNode, loc: Loc) -> Condition | None:
        if isinstance(node, RouterNode) and loc[:1] == ("routes",):
            return node.routes[loc[1]].when  # type: ignore[index]
        if isinstance(node, LoopNode) and loc[:1] == ("while",):
            return node.while_
        return None

    def check_condition(self, at: Loc, condition: Condition, typed: Typed) -> None:
        op, value, name, expr = condition.op, condition.value, condition.field, typed.expr
        problem = None
        if op in ORDER_OPS and not expr.is_number:
            problem = (
                f"'{name}' is {expr}, and `{op}` compares numbers (use eq, ne, in or contains)"
            )
        elif op in ("eq", "ne"):
            detail = typed.value_problem(value)
            problem = (
                f"`{op}` compares '{name}' ({expr}) with a value that does not fit: {detail}"
                if detail
                else None
            )
        elif op in LIST_OPS:
            details = [typed.value_problem(item) for item in value]
            detail = next((d for d in details if d), None)
            problem = (
                f"`{op}` lists a value that '{name}' ({expr}) cannot have: {detail}"
                if detail
                else None
            )
        elif op == "contains":
            problem = self.contains_problem(name, typed, value)
        if problem:
            self.add((*at, "op" if op in ORDER_OPS else "value"), problem)

    def contains_problem(self, name: str, typed: Typed, value: object) -> str | None:
        expr = typed.expr
        if expr.name == "str" or expr.name == "dict":
            return None if isinstance(value, str) else f"'{name}' is {expr}: `contains` needs text"
        if expr.name == "list":
            item = Typed(expr.inner, typed.spec)
            detail = item.value_problem(value)
            return f"'{name}' is {expr}: {detail}" if detail else None
        return f"'{name}' is {expr}: `contains` works on text, lists and mappings"

    def check_order(self, found: list[Transition]) -> None:
        """A field read by a node must be an input or written by a node that can run first."""
        state = self.parts.state or {}
        inputs = set(input_names(state, self.nodes.values()))
        turned = reverse(successors(found))
        writers: dict[str, list[str]] = {}
        for node in self.nodes.values():
            for use in node.writes():
                writers.setdefault(use.field, []).append(node.id)
        for index, node in self.parts.nodes:
            if self.index_of.get(node.id) != index:
                continue
            before = ancestors(turned, node.id)
            # Memory is read into state before the node runs and written from it after.
            loaded = {use.field for use in node.writes() if use.loc[:1] == ("memory",)}
            produced = {use.field for use in node.writes()}
            for use in node.reads():
                name = use.field.split(".")[0]
                own = produced if use.loc[:1] == ("memory",) else loaded
                if name in inputs or name not in state or name in own:
                    continue
                if not any(writer in before for writer in writers.get(name, [])):
                    later = ", ".join(f"'{w}'" for w in writers.get(name, []))
                    self.add(
                        _at(index, use.loc),
                        f"'{name}' is read before any node writes it (written by {later}, which "
                        "runs later or on another branch): reorder the nodes or give it a default",
                    )

    # --- MCP servers ------------------------------------------------------------------------

    def check_mcp_servers(self) -> None:
        declared = self.parts.mcp_servers
        if declared is None:
            return
        known = declared | set(shared_servers())
        for index, node in self.parts.nodes:
            if isinstance(node, McpToolNode) and node.server not in known:
                self.add(_at(index, ("server",)), unknown_server_message(node.server, known))
            # The MCP servers a tool-using llm node offers tools of.
            for position, ref in enumerate(getattr(node, "tools", None) or []):
                if ref.mcp is not None and ref.mcp not in known:
                    self.add(
                        _at(index, ("tools", position, "mcp")),
                        unknown_server_message(ref.mcp, known),
                    )

    # --- memory and schedules -------------------------------------------------------------

    def check_memory(self) -> None:
        keys = self.parts.memory.keys if self.parts.memory else {}
        state = self.parts.state
        for index, node in self.parts.nodes:
            access = getattr(node, "memory", None)
            if access is None:
                continue
            for direction in ("read", "write"):
                for number, ref in enumerate(getattr(access, direction)):
                    at = _at(index, ("memory", direction, number))
                    if ref.key not in keys:
                        self.add(
                            (*at, "key"),
                            f"memory key '{ref.key}' is not declared{_hint(ref.key, keys)}: "
                            "add it under memory.keys",
                        )
                    elif (
                        state is not None
                        and ref.field in state
                        and not keys[ref.key].same_type(state[ref.field])
                    ):
                        self.add(
                            (*at, "field"),
                            f"memory key '{ref.key}' is {keys[ref.key].type} but state field "
                            f"'{ref.field}' is {state[ref.field].type}",
                        )

    def check_schedules(self) -> None:
        state = self.parts.state or {}
        names = (
            input_names(state, self.nodes.values()) if self.parts.nodes_complete else list(state)
        )
        for index, schedule in self.parts.schedules:
            at: Loc = ("schedules", index, "inputs")
            for key, value in schedule.inputs.items():
                if key not in names:
                    what = "is set by the workflow" if key in state else "is not a state field"
                    self.add(
                        (*at, key),
                        f"'{key}' {what}, so a schedule cannot give it{_hint(key, names)}",
                        at_key=True,
                    )
                    continue
                problem = state[key].value_problem(value)
                if problem:
                    self.add((*at, key), f"input '{key}': {problem}")
            for name in names:
                if state[name].required and name not in schedule.inputs:
                    self.add(
                        at if schedule.inputs else ("schedules", index),
                        f"the schedule does not give required input '{name}'",
                    )


def check_parts(parts: Parts) -> list[Finding]:
    """Every cross-part problem of these parts."""
    checker = _Checker(parts)
    checker.check_ids()
    found = build_transitions(parts.nodes, parts.edges)
    checker.check_references(found)
    checker.check_edges()
    graph_complete = parts.nodes_complete and parts.edges_complete and not parts.unknown_broken
    if graph_complete:
        checker.check_graph(found)
    if parts.state is not None:
        checker.check_state()
        if graph_complete:
            checker.check_order(found)
        checker.check_schedules()
    if parts.memory_ok:
        checker.check_memory()
    checker.check_mcp_servers()
    return checker.found


def unknown_server_message(name: str, known: Iterable[str]) -> str:
    """What to say about a node naming an MCP server nobody declared."""
    return (
        f"unknown MCP server '{name}'{_hint(name, known)}: declare it under mcp_servers "
        "(or in the file named by MCP_SERVERS_FILE)"
    )
