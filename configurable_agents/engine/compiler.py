"""Compiles a validated WorkflowConfig into a LangGraph StateGraph.

Every workflow field is a channel whose last write wins; the engine keeps two internal
channels: how often each node ran (``_visits``, for loop bounds and step keys) and
approval decisions (``_decisions``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from configurable_agents.config.names import END as CONFIG_END
from configurable_agents.config.names import START as CONFIG_START
from configurable_agents.config.schema import (
    AnyNode,
    ApprovalNode,
    LoopNode,
    ParallelNode,
    RouterNode,
    WorkflowConfig,
)
from configurable_agents.engine.context import RunContext
from configurable_agents.engine.nodes import DECISIONS, VISITS, approval_step, execute_node


def _last_value(_old: Any, new: Any) -> Any:
    return new


def _merge(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    return {**(old or {}), **(new or {})}


def state_schema(config: WorkflowConfig) -> type:
    """A TypedDict with one channel per state field plus the engine's own."""
    fields: dict[str, Any] = {name: Annotated[Any, _last_value] for name in config.state}
    fields[VISITS] = Annotated[dict, _merge]
    fields[DECISIONS] = Annotated[dict, _merge]
    return TypedDict("WorkflowState", fields)  # type: ignore[operator]


def _target(name: str) -> str:
    return END if name == CONFIG_END else name


# The run a node belongs to. A context variable (LangGraph copies the context into the
# threads of parallel branches) lets one compiled graph serve every run of a version.
CURRENT_RUN: ContextVar[RunContext] = ContextVar("current_run")


def _node_function(node: AnyNode) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def run(state: dict[str, Any]) -> dict[str, Any]:
        ctx = CURRENT_RUN.get()
        visit = int((state.get(VISITS) or {}).get(node.id, 0)) + 1
        step_key = f"{node.id}#{visit}"
        if isinstance(node, ApprovalNode):
            updates = approval_step(node, state, ctx, step_key)
        else:
            updates = execute_node(node, state, ctx, step_key)
        return {**updates, VISITS: {node.id: visit}}

    run.__name__ = f"node_{node.id}"
    return run


def _router(node: RouterNode) -> Callable[[dict[str, Any]], str]:
    def choose(state: dict[str, Any]) -> str:
        for route in node.routes:
            if route.when.evaluate(state):
                return _target(route.to)
        return _target(node.default)

    return choose


def _loop(node: LoopNode) -> Callable[[dict[str, Any]], str]:
    def choose(state: dict[str, Any]) -> str:
        visits = int((state.get(VISITS) or {}).get(node.id, 0))
        again = visits < node.max_iterations and (
            node.while_ is None or node.while_.evaluate(state)
        )
        return _target(node.body if again else node.exit)

    return choose


def _approval(node: ApprovalNode, approve_targets: list[str]) -> Callable[[dict[str, Any]], Any]:
    def choose(state: dict[str, Any]) -> Any:
        decision = (state.get(DECISIONS) or {}).get(node.id)
        if decision == "approved":
            return [_target(t) for t in approve_targets] or END
        return _target(node.on_reject or CONFIG_END)

    return choose


def build_graph(config: WorkflowConfig) -> StateGraph:
    """The uncompiled graph; node functions find their run in CURRENT_RUN."""
    graph = StateGraph(state_schema(config))
    for node in config.nodes:
        graph.add_node(node.id, _node_function(node))

    plain: dict[str, list[str]] = defaultdict(list)
    for edge in config.edges:
        plain[edge.from_].append(edge.to)
    joins = {node.join for node in config.nodes if isinstance(node, ParallelNode)}
    # Edges into a join wait for every branch: one waiting edge from all their sources.
    join_sources: dict[str, list[str]] = defaultdict(list)

    for source, targets in plain.items():
        if source == CONFIG_START:
            for target in targets:
                graph.add_edge(START, _target(target))
            continue
        node = config.get_node(source)
        if isinstance(node, RouterNode | LoopNode | ApprovalNode):
            continue  # their targets are chosen below
        for target in targets:
            if target in joins:
                join_sources[target].append(source)
            else:
                graph.add_edge(source, _target(target))

    for node in config.nodes:
        if isinstance(node, RouterNode):
            targets = {_target(route.to) for route in node.routes} | {_target(node.default)}
            graph.add_conditional_edges(node.id, _router(node), sorted(targets))
        elif isinstance(node, LoopNode):
            graph.add_conditional_edges(
                node.id, _loop(node), sorted({_target(node.body), _target(node.exit)})
            )
        elif isinstance(node, ApprovalNode):
            approve = plain.get(node.id, [])
            targets = {_target(t) for t in approve} | {_target(node.on_reject or CONFIG_END)}
            graph.add_conditional_edges(node.id, _approval(node, approve), sorted(targets))
        elif isinstance(node, ParallelNode):
            for branch in node.branches:
                graph.add_edge(node.id, _target(branch))

    for join, sources in join_sources.items():
        graph.add_edge(sources if len(sources) > 1 else sources[0], join)
    return graph


def compile_workflow(config: WorkflowConfig, checkpointer: BaseCheckpointSaver | None = None):  # type: ignore[no-untyped-def]
    """The runnable graph; with a checkpointer every step is checkpointed under the run id.
    Invoke it with CURRENT_RUN set to the run's context."""
    return build_graph(config).compile(checkpointer=checkpointer)
