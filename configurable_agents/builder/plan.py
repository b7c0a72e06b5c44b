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


def steps_of(block: Block) -> list[Step]:
    """The steps of a block, in order: itself, or those of its branches."""
    if isinstance(block, Step):
        return [block]
    if isinstance(block, Router):
        return [step for route in block.routes for step in route.steps] + block.otherwise
    return list(block.branches)


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
        return [step for block in self.blocks for step in steps_of(block)]

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

    def forget_if_unread(self, name: str) -> None:
        """Drop the input ``name`` (and the guess that made it) when no step reads it."""
        if name in self.fields and not any(name in step.reads for step in self.steps()):
            del self.fields[name]
            self.guessed = [g for g in self.guessed if g != f"I guessed the input '{name}'"]

    def drop_unused_fields(self) -> None:
        """Drop the fields no step reads or writes and no router or loop is on (left by
        steps the reading replaced), with the guesses that made them."""
        used = {name for step in self.steps() for name in (*step.reads, *step.writes)}
        used |= {block.field for block in self.blocks if isinstance(block, Router)}
        if self.loop is not None and self.loop.while_field:
            used.add(self.loop.while_field)
        for name in [name for name in self.fields if name not in used]:
            del self.fields[name]
            self.guessed = [g for g in self.guessed if g != f"I guessed the input '{name}'"]

    def rename_field(self, old: str, new: str) -> None:
        """Call the field ``old`` ``new`` wherever the plan uses it (steps' reads and writes,
        placeholders in instructions and arguments, routers and the loop)."""
        spec = self.fields.pop(old)
        spec.name = new
        self.fields[new] = spec
        placeholder, replacement = f"{{{old}}}", f"{{{new}}}"
        for step in self.steps():
            step.reads = [new if name == old else name for name in step.reads]
            step.writes = [new if name == old else name for name in step.writes]
            step.instruction = step.instruction.replace(placeholder, replacement)
            step.args = {
                key: value.replace(placeholder, replacement) if isinstance(value, str) else value
                for key, value in step.args.items()
            }
            step.node = None
        for block in self.blocks:
            if isinstance(block, Router) and block.field == old:
                block.field = new
        if self.loop is not None and self.loop.while_field == old:
            self.loop.while_field = new

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
    "title": "Workflow plan",
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


class PlanError(Exception):
    """A plan written as JSON that cannot be read; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_ARGS = ("url", "path", "expression")


def _step_from_json(raw: Any, index: int, problems: list[str]) -> Step | None:
    where = f"steps[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        problems.append(f"{where}: a step is an object with an `id`")
        return None
    kind = raw.get("kind")
    if kind not in STEP_KINDS:
        problems.append(f"{where}.kind: one of {', '.join(STEP_KINDS)}, not {kind!r}")
        return None
    step = Step(
        raw["id"],
        kind,
        str(raw.get("does") or raw["id"]),
        str(raw.get("instruction") or ""),
        [str(name) for name in raw.get("reads") or []],
        [str(name) for name in raw.get("writes") or []],
        {key: raw[key] for key in _ARGS if raw.get(key)},
    )
    if kind == "classify":
        step.args["values"] = [str(value) for value in raw.get("values") or []]
    if kind == "review" and not step.writes:
        step.writes = ["score", "feedback"]
    if kind in ("http_request", "file_read", "calculator") and not step.writes:
        step.writes = [f"{step.id}_result"]
    if kind == "file_write":
        subject = step.reads[0] if step.reads else None
        step.args.setdefault("path", f"outputs/{subject or step.id}.md")
        step.args["content"] = f"{{{subject}}}\n" if subject else ""
    if kind == "http_request":
        if "url" not in step.args:
            problems.append(f"{where}.url: an http_request step needs the url (or {{field}})")
        if raw.get("method") == "POST" or step.does in ("send", "post", "notify"):
            body = step.reads[0] if step.reads else None
            step.args.update(method="POST", body=f"{{{body}}}" if body else "")
    if kind == "file_read" and "path" not in step.args:
        problems.append(f"{where}.path: a file_read step needs the path (or {{field}})")
    if kind == "calculator" and "expression" not in step.args:
        problems.append(f"{where}.expression: a calculator step needs the expression")
    return step


def _declare(plan: Plan, step: Step) -> None:
    """The fields a step writes, typed by what the step is."""
    for name in step.writes:
        if name in plan.fields:
            continue
        values = step.args.get("values") if step.kind == "classify" else None
        kind = "enum" if values else "int" if name == "score" else "str"
        if step.kind == "calculator":
            kind = "float"
        plan.fields[name] = Field(name, kind, values=values or None)


def plan_from_json(data: Any, request: str) -> Plan:
    """The Plan a capable model wrote as JSON under PLAN_SCHEMA; raises PlanError."""
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise PlanError(["the plan needs `steps`: a non-empty list of steps"])
    problems: list[str] = []
    plan = Plan(
        request,
        name=str(data.get("name") or ""),
        description=str(data.get("description") or request),
    )
    for item in data.get("inputs") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            kind = str(item.get("type") or "str")
            plan.fields[item["name"]] = Field(
                item["name"], kind, str(item.get("description") or ""), required=True
            )
    steps = [_step_from_json(raw, i, problems) for i, raw in enumerate(data["steps"])]
    by_id = {step.id: step for step in steps if step is not None}
    for step in by_id.values():
        _declare(plan, step)
    blocks: list[Block] = list(by_id.values())
    for number, raw in enumerate(data.get("routers") or []):
        after = by_id.get(str(raw.get("after")))
        if after is None or not isinstance(raw.get("routes"), dict):
            problems.append(
                f"routers[{number}]: `after` names a step and `routes` maps values to steps"
            )
            continue
        router = Router(f"route_{number + 1}" if number else "route", str(raw.get("field")))
        for value, target in raw["routes"].items():
            step = by_id.get(str(target))
            if step is not None and step in blocks:
                blocks.remove(step)
            router.routes.append(Route(str(value), [step] if step else [], stop=step is None))
        blocks.insert(blocks.index(after) + 1, router)
    for number, group in enumerate(data.get("parallel") or []):
        members = [by_id[name] for name in group if name in by_id and by_id[name] in blocks]
        if len(members) < 2:
            problems.append(f"parallel[{number}]: at least two steps by id")
            continue
        at = blocks.index(members[0])
        for member in members:
            blocks.remove(member)
        blocks.insert(at, Parallel(f"parallel_{number + 1}" if number else "parallel", members))
    loop = data.get("loop")
    if isinstance(loop, dict):
        after = by_id.get(str(loop.get("after")))
        if after is None or str(loop.get("body")) not in by_id:
            problems.append("loop: `body` and `after` name steps")
        else:
            review = after.kind == "review"
            plan.loop = Loop(
                str(loop["body"]),
                after.id,
                int(loop.get("max_iterations") or 3),
                "score" if review else None,
                7 if review else None,
            )
    if problems:
        raise PlanError(problems)
    plan.blocks = blocks
    return plan
