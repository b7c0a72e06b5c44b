"""The intermediate plan both modes share: what a request asks for, before it is a config.

    plan.blocks   steps in order; a block is a Step, a Router (branches of steps chosen by
                  a field's value) or a Parallel (steps run at once, joined by the next block)
    plan.loop     a bounded back edge: after one step, go back to another, at most N times
    plan.inputs   the fields the user supplies when running
    plan.understood / plan.guessed   what the reply tells the user
    plan.question one short question with choices, when a guess would change the graph

The offline interpreter (``interpret``) builds a plan by rules; a capable model builds the
same plan as JSON under ``PLAN_SCHEMA``; ``compose`` turns any plan into config data, and
``lift`` turns a config back into a plan so that refinements are edits of the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Step kinds: what one node does. llm-like kinds are answered by the model.
LLM_KINDS = ("llm", "review", "classify")
TOOL_KINDS = ("http_request", "file_read", "file_write", "calculator", "current_time")
STEP_KINDS = (*LLM_KINDS, "approval", *TOOL_KINDS)
# The features a request can name, as the corpus and the reply call them.
FEATURES = ("router", "loop", "parallel", "approval", *TOOL_KINDS)


@dataclass
class Field:
    """A state field: an input the user supplies (``required`` or a ``default``) or a
    value a step writes."""

    name: str
    type: str = "str"
    description: str = ""
    required: bool = False
    default: Any = None
    values: list[str] | None = None

    @property
    def is_input(self) -> bool:
        """Whether the user supplies it when running."""
        return self.required or self.default is not None

    def to_data(self) -> dict[str, Any]:
        """The field as config data."""
        data: dict[str, Any] = {"type": self.type}
        if self.required:
            data["required"] = True
        if self.default is not None:
            data["default"] = self.default
        if self.values:
            data["values"] = list(self.values)
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class Step:
    """One node-to-be.

    ``kind`` is one of STEP_KINDS; ``does`` is the verb the request used for it (summarize,
    fetch, approve); ``reads`` and ``writes`` name state fields; ``args`` holds what a
    tool needs (url, path, expression, method) and ``values`` the labels of a classify
    step. ``node`` is the config node this step was lifted from, kept as it was unless an
    edit changes the step.
    """

    id: str
    kind: str
    does: str
    instruction: str = ""
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    args: dict[str, Any] = field(default_factory=dict)
    node: dict[str, Any] | None = None


@dataclass
class Route:
    """One branch of a router: taken when the router's field equals ``value``; ``stop``
    ends the run there ("filter out spam")."""

    value: str
    steps: list[Step] = field(default_factory=list)
    stop: bool = False


@dataclass
class Router:
    """Choose a branch by the value of ``field``; values without a branch take the
    ``otherwise`` steps, or go straight on to the next block when there are none."""

    id: str
    field: str
    routes: list[Route] = field(default_factory=list)
    otherwise: list[Step] = field(default_factory=list)


@dataclass
class Parallel:
    """Run ``branches`` at once; the next block is their join."""

    id: str
    branches: list[Step] = field(default_factory=list)


Block = Step | Router | Parallel


@dataclass
class Loop:
    """After step ``after``, go back to step ``body`` while ``while_field`` is below
    ``threshold`` (always when None), at most ``max_iterations`` times."""

    body: str
    after: str
    max_iterations: int
    while_field: str | None = None
    threshold: float | None = None
    id: str = "repeat"


@dataclass
class Choice:
    """A button under a question: its label, and the edit it makes (a refinement in words)."""

    label: str
    edit: str


@dataclass
class Question:
    """One short question whose answer changes the graph."""

    text: str
    choices: list[Choice]


@dataclass
class Plan:
    """What the request asks for, ready to compose."""

    request: str
    blocks: list[Block] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)
    loop: Loop | None = None
    name: str = ""
    description: str = ""
    understood: list[str] = field(default_factory=list)
    guessed: list[str] = field(default_factory=list)
    question: Question | None = None
    # Top-level config keys a lifted config had besides the graph (llm defaults, memory...).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> list[Field]:
        """The fields the user supplies when running the workflow."""
        return [spec for spec in self.fields.values() if spec.is_input]

    def steps(self) -> list[Step]:
        """Every step, in order, branches included."""
        found: list[Step] = []
        for block in self.blocks:
            if isinstance(block, Step):
                found.append(block)
            elif isinstance(block, Router):
                found += [step for route in block.routes for step in route.steps]
                found += block.otherwise
            else:
                found += block.branches
        return found

    def features(self) -> list[str]:
        """The control features and tools the plan uses (names from FEATURES)."""
        found: list[str] = []
        for block in self.blocks:
            if isinstance(block, Router):
                found.append("router")
            elif isinstance(block, Parallel):
                found.append("parallel")
        if self.loop is not None:
            found.append("loop")
        for step in self.steps():
            if step.kind == "approval" or step.kind in TOOL_KINDS:
                found.append(step.kind)
        return list(dict.fromkeys(found))

    def find(self, step_id: str) -> Step | None:
        """The step with this id, wherever it is."""
        return next((step for step in self.steps() if step.id == step_id), None)

    def ids(self) -> set[str]:
        """Every node id the plan will use."""
        taken = {step.id for step in self.steps()}
        taken |= {block.id for block in self.blocks if not isinstance(block, Step)}
        if self.loop is not None:
            taken.add(self.loop.id)
        return taken


# The plan as a capable model writes it: a flat list of steps; routers and parallel
# groups name their steps by id. ``plan_from_json`` turns it into a Plan.
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "type": {"enum": ["str", "int", "float", "bool", "list[str]"]},
                    "description": {"type": "string"},
                },
                "required": ["name", "type"],
            },
        },
        "steps": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "kind": {"enum": list(STEP_KINDS)},
                    "does": {"type": "string"},
                    "instruction": {"type": "string"},
                    "reads": {"type": "array", "items": {"type": "string"}},
                    "writes": {"type": "array", "items": {"type": "string"}},
                    "values": {"type": "array", "items": {"type": "string"}},
                    "url": {"type": "string"},
                    "path": {"type": "string"},
                    "expression": {"type": "string"},
                },
                "required": ["id", "kind", "does"],
            },
        },
        "routers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "after": {"type": "string"},
                    "field": {"type": "string"},
                    "routes": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "required": ["after", "field", "routes"],
            },
        },
        "parallel": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        "loop": {
            "type": "object",
            "properties": {
                "body": {"type": "string"},
                "after": {"type": "string"},
                "max_iterations": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
            "required": ["body", "after", "max_iterations"],
        },
    },
    "required": ["steps"],
}
