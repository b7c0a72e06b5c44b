"""The one place the dashboard talks to the workflow language (configurable_agents.config).

Pages need: validation with line/column errors, the typed inputs of a workflow (run forms)
and checking given values, its graph (nodes and edges to draw), its JSON Schema and a cost
estimate. Everything here returns small plain structures the templates and the API use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from configurable_agents.config import END, START, config_to_data, transitions, workflow_json_schema
from configurable_agents.config import input_fields as language_inputs
from configurable_agents.config.inputs import input_problems
from configurable_agents.config.loader import check_text
from configurable_agents.llm.pricing import PriceTable

__all__ = ["END", "START"]


@dataclass(frozen=True)
class Issue:
    """One problem in a config, where it is."""

    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }


@dataclass(frozen=True)
class InputField:
    """One typed input of a workflow, as a run form shows it."""

    name: str
    type: str = "str"
    required: bool = False
    default: Any = None
    description: str = ""
    choices: tuple[str, ...] = ()

    @property
    def widget(self) -> str:
        """The form control: select, checkbox, number, json or text."""
        if self.choices:
            return "select"
        if self.type == "bool":
            return "checkbox"
        if self.type in ("int", "float"):
            return "number"
        if self.type != "str":
            return "json"
        return "text"


@dataclass(frozen=True)
class GraphNode:
    id: str
    kind: str = "llm"


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    label: str = ""


@dataclass
class Graph:
    """Nodes and edges of a workflow, START and END included."""

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)

    @property
    def work_nodes(self) -> list[GraphNode]:
        """The nodes that do something (not START/END)."""
        return [node for node in self.nodes if node.id not in (START, END)]


@dataclass
class Checked:
    """The outcome of validating a config text."""

    ok: bool
    issues: list[Issue] = field(default_factory=list)
    config: Any = None  # the language's WorkflowConfig when valid
    data: dict[str, Any] = field(default_factory=dict)  # the config (or what parsed) as plain data

    @property
    def name(self) -> str:
        return str(self.data.get("name") or "")

    @property
    def description(self) -> str:
        return str(self.data.get("description") or "")


# --- validation ----------------------------------------------------------------------------


def check(text: str, *, filename: str = "workflow.yaml") -> Checked:
    """Validate a config text; every problem found comes back with its line and column."""
    # check_text reads the text itself: load_config() would treat a one-line text ending
    # in .yaml as a path on this machine, which user input must never reach.
    if not text.strip():
        return Checked(ok=False, issues=[Issue("the config is empty", 1, 1)])
    config, issues = check_text(text, filename)
    if config is None or issues:
        found = [Issue(i.message, i.line, i.column, i.path) for i in issues] or [
            Issue("the config is not valid")
        ]
        return Checked(ok=False, issues=found, data=_loose_data(text))
    return Checked(ok=True, config=config, data=config_to_data(config))


def _loose_data(text: str) -> dict[str, Any]:
    """Whatever plain YAML reading gets from an invalid text (for names and a rough graph)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


# --- inputs --------------------------------------------------------------------------------


def input_fields(checked: Checked) -> list[InputField]:
    """The typed inputs a run of this workflow takes (none when the config is invalid)."""
    if checked.config is None:
        return []
    return as_input_fields(language_inputs(checked.config))


def as_input_fields(items: list[Any]) -> list[InputField]:
    """The language's input fields (of a workflow or a remote agent) as forms show them."""
    return [
        InputField(
            name=item.name,
            type=str(item.type),
            required=item.required,
            default=item.default,
            description=item.description or "",
            choices=tuple(str(value) for value in item.values or ()),
        )
        for item in items
    ]


_INPUT_NAME = re.compile(r"input '([^']+)'")


def errors_by_input(problems: list[str]) -> dict[str, str]:
    """The language's input problems ("input 'count': ...") keyed by input name."""
    errors: dict[str, str] = {}
    for problem in problems:
        match = _INPUT_NAME.search(problem)
        errors.setdefault(match.group(1) if match else "inputs", problem)
    return errors


def coerce_inputs(
    checked: Checked, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values as the workflow's types (text is parsed, defaults filled in) and one
    message per wrong input, by input name: the same rules the engine applies."""
    if checked.config is None:
        return {}, {"config": "this workflow version does not validate; fix it first"}
    fields = {spec.name: spec for spec in input_fields(checked)}
    given: dict[str, Any] = {}
    for name, value in values.items():
        spec = fields.get(name)
        # A form sends "" for an empty optional box: that means "not given".
        if isinstance(value, str) and value == "" and spec is not None and spec.type != "str":
            continue
        if spec is not None and spec.type == "bool" and isinstance(value, str):
            value = value.lower() in ("true", "on", "1", "yes")
        given[name] = value
    result, problems = input_problems(checked.config, given)
    return result, errors_by_input(problems)


# --- graph ---------------------------------------------------------------------------------


def graph_of(checked: Checked) -> Graph:
    """The workflow's nodes and every transition (edges, routes, loop, branches, reject)."""
    if checked.config is not None:
        config = checked.config
        nodes = [GraphNode(START, "start")]
        nodes += [GraphNode(node.id, node.kind) for node in config.nodes]
        nodes.append(GraphNode(END, "end"))
        approvals = {node.id for node in config.nodes if node.kind == "approval"}
        edges = []
        for t in transitions(config):
            label = t.label
            if t.kind == "edge" and t.source in approvals:
                label = "approved"
            elif t.kind in ("edge", "branch"):
                label = ""
            edges.append(GraphEdge(t.source, t.target, label))
        return Graph(nodes=nodes, edges=_unique(edges, {n.id for n in nodes}))
    return _graph_from_data(checked.data)


def _unique(edges: list[GraphEdge], known: set[str]) -> list[GraphEdge]:
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for edge in edges:
        key = (edge.source, edge.target, edge.label)
        if key not in seen and edge.source in known and edge.target in known:
            seen.add(key)
            unique.append(edge)
    return unique


def _graph_from_data(data: dict[str, Any]) -> Graph:
    """A best-effort graph of an invalid config: the nodes and plain edges that parse."""
    nodes = [GraphNode(START, "start")]
    for node in data.get("nodes") or []:
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            nodes.append(GraphNode(node["id"], str(node.get("kind", "?"))))
    nodes.append(GraphNode(END, "end"))
    edges = [
        GraphEdge(edge["from"], edge["to"])
        for edge in data.get("edges") or []
        if isinstance(edge, dict)
        and isinstance(edge.get("from"), str)
        and isinstance(edge.get("to"), str)
    ]
    return Graph(nodes=_unique_nodes(nodes), edges=_unique(edges, {n.id for n in nodes}))


def _unique_nodes(nodes: list[GraphNode]) -> list[GraphNode]:
    seen: set[str] = set()
    return [n for n in nodes if not (n.id in seen or seen.add(n.id))]  # type: ignore[func-returns-value]


# --- schema and cost -----------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The config's JSON Schema."""
    return workflow_json_schema()


@dataclass(frozen=True)
class CostEstimate:
    """A range of what one run may cost (USD), with how it was reckoned."""

    low: float
    high: float
    llm_calls_low: int
    llm_calls_high: int
    note: str


# Rough rules: 4 characters per token; state text inserted into a prompt adds up to
# STATE_TOKENS; the shortest useful answer is MIN_ANSWER_TOKENS.
CHARS_PER_TOKEN = 4
STATE_TOKENS = 512
MIN_ANSWER_TOKENS = 16
DEFAULT_MAX_TOKENS = 512


def estimate_cost(checked: Checked, *, provider: str = "local", model: str = "") -> CostEstimate:
    """A rough cost range for one run: each LLM node once with a short answer (low), up to
    every LLM node at its loop bound with a full answer (high). ``provider`` and ``model``
    are the settings' defaults for nodes that name none."""
    config = checked.config
    if config is None:
        return CostEstimate(0.0, 0.0, 0, 0, "fix the config to get an estimate")
    table = PriceTable({name: price.model_dump() for name, price in config.pricing.items()})
    repeat = {}
    for node in config.nodes:
        if node.kind == "loop":
            repeat[node.body] = max(repeat.get(node.body, 1), node.max_iterations)
    low = high = 0.0
    calls_low = calls_high = 0
    free: set[str] = set()
    unpriced: set[str] = set()
    bound = max(repeat.values(), default=1)
    for node in config.nodes:
        if node.kind != "llm":
            continue
        llm = config.effective_llm(node)
        node_provider = llm.provider or provider
        node_model = llm.model or model
        calls_low += 1
        calls_high += bound if repeat else 1
        if node_provider == "local":
            free.add("local model")
            continue
        price = table.price_of(node_model) if node_model else None
        if price is None:
            unpriced.add(node_model or f"{node_provider} default model")
            continue
        prompt = len(node.prompt) + len(node.system or "")
        tokens_in = prompt // CHARS_PER_TOKEN + 1
        max_out = llm.max_tokens or DEFAULT_MAX_TOKENS
        low += (tokens_in * price.input + MIN_ANSWER_TOKENS * price.output) / 1e6
        times = bound if repeat else 1
        high += times * ((tokens_in + STATE_TOKENS) * price.input + max_out * price.output) / 1e6
    parts = [f"{calls_low} LLM call(s) per pass"]
    if repeat:
        parts.append(f"up to {calls_high} with loops")
    if free:
        parts.append("the local model costs nothing")
    if unpriced:
        parts.append("no price known for " + ", ".join(sorted(unpriced)))
    return CostEstimate(low, high, calls_low, calls_high, "; ".join(parts))


def estimate_for(checked: Checked, settings: Any) -> CostEstimate:
    """The estimate with the settings' default provider and model (LLM_PROVIDER, LLM_MODEL)."""
    return estimate_cost(
        checked, provider=str(settings.llm_provider.value), model=settings.llm_model
    )
