"""The workflow language as pydantic models: ``WorkflowConfig`` and everything in it.

These models check shape and values (unknown keys, types, names, templates, cron, paths);
``validate.py`` checks what spans several parts (graph, state references, memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from croniter import croniter
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from configurable_agents.config.agent_tools import (
    DEFAULT_MAX_TOOL_CALLS,
    MAX_TOOL_CALLS_LIMIT,
    ToolRefItem,
    duplicate_tool_names,
)
from configurable_agents.config.conditions import Condition
from configurable_agents.config.expressions import expression_fields
from configurable_agents.config.mcp import McpServerConfig, ServerName
from configurable_agents.config.names import (
    AgentName,
    EnvVarName,
    FieldName,
    JsonValue,
    NodeId,
    Slug,
    Source,
    Target,
    Template,
)
from configurable_agents.config.state import MemoryKey, StateField, StrictModel
from configurable_agents.config.templates import template_references
from configurable_agents.config.tools import (
    TOOL_NAMES,
    CalculatorArgs,
    CurrentTimeArgs,
    FileReadArgs,
    FileWriteArgs,
    HttpRequestArgs,
    JsonPathArgs,
    TimeZone,
)

SCHEMA_VERSION = 1
NODE_KINDS = ("llm", "tool", "router", "loop", "parallel", "approval", "agent")
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldUse:
    """A state field a node reads or writes, and where in the node that is said.

    ``types`` are the type names the field may have for this use; None is any.
    """

    loc: Loc
    field: str
    types: tuple[str, ...] | None = None


def _template_reads(loc: Loc, template: str | None) -> list[FieldUse]:
    if not template:
        return []
    return [FieldUse(loc, reference.dotted) for reference in template_references(template)]


# --- LLM settings --------------------------------------------------------------------------


def _check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "base_url must be an http:// or https:// URL, e.g. http://127.0.0.1:11434/v1"
        )
    if parts.username or parts.password:
        raise ValueError("base_url must not carry credentials: use api_key_env")
    return value


class LLMConfig(StrictModel):
    """Which model answers and how. Unset values fall back to the workflow's ``llm``, then
    to the settings (LLM_PROVIDER, LLM_MODEL, ...)."""

    provider: Literal["local", "openai", "anthropic"] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    timeout: float | None = Field(default=None, gt=0, le=3600, description="Seconds.")
    base_url: Annotated[str, AfterValidator(_check_base_url)] | None = None
    api_key_env: EnvVarName | None = Field(
        default=None,
        description="NAME of the environment variable holding the API key, never the key.",
    )

    def merged(self, override: LLMConfig | None) -> LLMConfig:
        """These settings with every value the override sets replacing ours. An override
        that switches provider does not inherit our model, base_url or api_key_env: those
        belong to our provider's endpoint."""
        if override is None:
            return self
        values = self.model_dump(exclude_none=True)
        if override.provider is not None and override.provider != self.provider:
            for endpoint_key in ("model", "base_url", "api_key_env"):
                values.pop(endpoint_key, None)
        return LLMConfig(**(values | override.model_dump(exclude_none=True)))


# --- memory --------------------------------------------------------------------------------


class MemoryConfig(StrictModel):
    """The keys a workflow keeps across its runs (stored per workflow name and namespace)."""

    namespace: Slug = "default"
    keys: dict[FieldName, MemoryKey] = Field(min_length=1)


def _shorthand_ref(value: Any) -> Any:
    # `- summary` means key `summary` <-> state field `summary`.
    return {"key": value, "field": value} if isinstance(value, str) else value


class MemoryRef(StrictModel):
    """A memory key and the state field it is read into or written from."""

    key: FieldName
    field: FieldName


MemoryRefItem = Annotated[
    MemoryRef, BeforeValidator(_shorthand_ref, json_schema_input_type=FieldName | MemoryRef)
]


class MemoryAccess(StrictModel):
    """``read``: memory -> state before the node runs; ``write``: state -> memory after it."""

    read: list[MemoryRefItem] = []
    write: list[MemoryRefItem] = []


# --- nodes ---------------------------------------------------------------------------------


class _Node(StrictModel):
    id: NodeId
    kind: str
    description: str = ""

    def reads(self) -> list[FieldUse]:
        """The state fields this node reads (dotted), with where each is named."""
        return []

    def writes(self) -> list[FieldUse]:
        """The state fields this node writes, with where each is named."""
        return []

    def _memory_uses(self, memory: MemoryAccess | None) -> tuple[list[FieldUse], list[FieldUse]]:
        if memory is None:
            return [], []
        reads = [
            FieldUse(("memory", "write", i, "field"), ref.field)
            for i, ref in enumerate(memory.write)
        ]
        writes = [
            FieldUse(("memory", "read", i, "field"), ref.field) for i, ref in enumerate(memory.read)
        ]
        return reads, writes


class LLMNode(_Node):
    """Ask the model: the prompt is rendered from state; the answer goes to ``output`` (one
    field) or ``outputs`` (several). A single str output takes the text as is; otherwise the
    model answers a JSON object with the output fields as keys, typed by their state
    declarations (see ``WorkflowConfig.structured_output_schema``)."""

    kind: Literal["llm"]
    prompt: Template
    system: Template | None = None
    output: FieldName | None = None
    outputs: list[FieldName] | None = Field(default=None, min_length=1)
    llm: LLMConfig | None = None
    memory: MemoryAccess | None = None
    # A tool-using node: the model may call these tools, at most max_tool_calls times.
    tools: list[ToolRefItem] = Field(default=[], max_length=64)
    max_tool_calls: int = Field(default=DEFAULT_MAX_TOOL_CALLS, ge=1, le=MAX_TOOL_CALLS_LIMIT)

    @model_validator(mode="after")
    def _one_output(self) -> LLMNode:
        if (self.output is None) == (self.outputs is None):
            raise ValueError(
                "an llm node needs exactly one of `output` (one state field) "
                "or `outputs` (a list of state fields)"
            )
        if self.outputs is not None and len(set(self.outputs)) != len(self.outputs):
            raise ValueError("`outputs` lists a field twice")
        problems = duplicate_tool_names(self.tools)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def output_fields(self) -> list[str]:
        """The state fields the answer is written to."""
        return [self.output] if self.output else list(self.outputs or [])

    def reads(self) -> list[FieldUse]:
        memory_reads, _ = self._memory_uses(self.memory)
        return [
            *_template_reads(("prompt",), self.prompt),
            *_template_reads(("system",), self.system),
            *memory_reads,
        ]

    def writes(self) -> list[FieldUse]:
        _, memory_writes = self._memory_uses(self.memory)
        if self.output:
            own = [FieldUse(("output",), self.output)]
        else:
            own = [FieldUse(("outputs", i), name) for i, name in enumerate(self.outputs or [])]
        return [*own, *memory_writes]


class _ToolNode(_Node):
    kind: Literal["tool"]
    tool: str
    args: Any = None
    output: FieldName | None = None
    memory: MemoryAccess | None = None

    # The types the output field may have (None: any).
    output_types: ClassVar[tuple[str, ...] | None] = None

    def _arg_reads(self) -> list[FieldUse]:
        return []

    def reads(self) -> list[FieldUse]:
        memory_reads, _ = self._memory_uses(self.memory)
        return [*self._arg_reads(), *memory_reads]

    def writes(self) -> list[FieldUse]:
        _, memory_writes = self._memory_uses(self.memory)
        own = [FieldUse(("output",), self.output, self.output_types)] if self.output else []
        return [*own, *memory_writes]


class HttpRequestNode(_ToolNode):
    """GET/POST a URL with a timeout and a size limit."""

    tool: Literal["http_request"]
    args: HttpRequestArgs
    output: FieldName
    output_types: ClassVar = ("str", "list", "dict", "object")

    def _arg_reads(self) -> list[FieldUse]:
        reads = _template_reads(("args", "url"), self.args.url)
        for name, value in self.args.headers.items():
            reads += _template_reads(("args", "headers", name), value)
        return reads + _template_reads(("args", "body"), self.args.body)


class FileReadNode(_ToolNode):
    """Read a text file inside the workspace folder."""

    tool: Literal["file_read"]
    args: FileReadArgs
    output: FieldName
    output_types: ClassVar = ("str",)

    def _arg_reads(self) -> list[FieldUse]:
        return _template_reads(("args", "path"), self.args.path)


class FileWriteNode(_ToolNode):
    """Write a text file inside the workspace folder; ``output`` (optional) gets its path."""

    tool: Literal["file_write"]
    args: FileWriteArgs
    output_types: ClassVar = ("str",)

    def _arg_reads(self) -> list[FieldUse]:
        return [
            *_template_reads(("args", "path"), self.args.path),
            *_template_reads(("args", "content"), self.args.content),
        ]


class CalculatorNode(_ToolNode):
    """Compute an arithmetic expression over numeric state fields."""

    tool: Literal["calculator"]
    args: CalculatorArgs
    output: FieldName
    output_types: ClassVar = ("int", "float")

    def _arg_reads(self) -> list[FieldUse]:
        loc = ("args", "expression")
        fields = expression_fields(self.args.expression)
        return [FieldUse(loc, name, ("int", "float")) for name in fields]


class CurrentTimeNode(_ToolNode):
    """The current date and time as text."""

    tool: Literal["current_time"]
    args: CurrentTimeArgs = CurrentTimeArgs()
    output: FieldName
    output_types: ClassVar = ("str",)


class JsonPathNode(_ToolNode):
    """Extract a value from JSON held in a state field."""

    tool: Literal["json_path"]
    args: JsonPathArgs
    output: FieldName

    def _arg_reads(self) -> list[FieldUse]:
        return [FieldUse(("args", "source"), self.args.source, ("str", "list", "dict", "object"))]


def _args_reads(loc: Loc, value: Any) -> list[FieldUse]:
    """The state fields read by the templates inside a JSON value (strings are templates)."""
    if isinstance(value, str):
        return _template_reads(loc, value)
    if isinstance(value, dict):
        return [use for key, item in value.items() for use in _args_reads((*loc, key), item)]
    if isinstance(value, list):
        return [use for i, item in enumerate(value) for use in _args_reads((*loc, i), item)]
    return []


def _check_args_templates(value: Any) -> Any:
    for use in _args_reads((), value):
        del use  # parsing is the check: template_references raised on a broken one
    return value


def _check_mcp_tool_name(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9_.\-/]{1,128}$", value):
        raise ValueError(
            f"'{value}' is not an MCP tool name: 1 to 128 letters, digits, '_', '-', '.' or '/'"
        )
    return value


class McpToolNode(_ToolNode):
    """Call a tool of an MCP server (declared under ``mcp_servers`` or in MCP_SERVERS_FILE).
    Every text in ``args`` is a template; a lone ``{field}`` passes the value with its type.
    ``output`` gets the tool's structured result (an object) when it has one and the field
    is not str, else its text."""

    tool: Literal["mcp"]
    server: ServerName
    name: Annotated[str, AfterValidator(_check_mcp_tool_name)] = Field(
        description="The tool's name, as `configurable-agents mcp tools SERVER` lists it."
    )
    args: Annotated[dict[str, JsonValue], AfterValidator(_check_args_templates)] = {}
    timeout: float | None = Field(
        default=None, gt=0, le=3600, description="Seconds; the server's timeout when not set."
    )
    max_bytes: int = Field(
        default=1_000_000, ge=1, le=50_000_000, description="Largest result taken, in bytes."
    )

    def _arg_reads(self) -> list[FieldUse]:
        return _args_reads(("args",), self.args)


ToolNode = Annotated[
    HttpRequestNode
    | FileReadNode
    | FileWriteNode
    | CalculatorNode
    | CurrentTimeNode
    | JsonPathNode
    | McpToolNode,
    Field(discriminator="tool"),
]


class Route(StrictModel):
    """Go ``to`` a node when the condition holds."""

    when: Condition
    to: Target


class RouterNode(_Node):
    """Choose the next node: the first route whose condition holds, else ``default``."""

    kind: Literal["router"]
    routes: list[Route] = Field(min_length=1)
    default: Target

    def reads(self) -> list[FieldUse]:
        return [
            FieldUse(("routes", i, "when", "field"), route.when.field)
            for i, route in enumerate(self.routes)
        ]


class LoopNode(_Node):
    """A bounded back edge. On its k-th visit in a run the loop goes back to ``body`` when
    k < max_iterations and ``while`` holds (or is absent); otherwise on to ``exit``."""

    kind: Literal["loop"]
    body: Target = Field(description="The node to go back to.")
    while_: Condition | None = Field(default=None, alias="while")
    max_iterations: int = Field(ge=1, le=1000)
    exit: Target = Field(description="Where to go when the loop ends.")

    def reads(self) -> list[FieldUse]:
        return [FieldUse(("while", "field"), self.while_.field)] if self.while_ else []


class ParallelNode(_Node):
    """Run every branch at once; each branch leads to ``join``, which runs once all are done."""

    kind: Literal["parallel"]
    branches: list[Target] = Field(min_length=2)
    join: Target


class ApprovalNode(_Node):
    """Pause the run until a person approves (go on along this node's edge) or rejects (go
    to ``on_reject``, END when not set). ``feedback`` receives the person's comment."""

    kind: Literal["approval"]
    message: Template
    on_reject: Target | None = None
    feedback: FieldName | None = None

    def reads(self) -> list[FieldUse]:
        return _template_reads(("message",), self.message)

    def writes(self) -> list[FieldUse]:
        return [FieldUse(("feedback",), self.feedback, ("str",))] if self.feedback else []


class AgentNode(_Node):
    """Call a registered remote agent by name; each input is a template (a lone
    ``{field}`` passes the value with its type); the answer goes to ``output``."""

    kind: Literal["agent"]
    agent: AgentName
    inputs: dict[Annotated[str, Field(min_length=1, max_length=100)], Template] = {}
    output: FieldName
    timeout: float = Field(default=60.0, gt=0, le=3600, description="Seconds.")
    memory: MemoryAccess | None = None

    def reads(self) -> list[FieldUse]:
        memory_reads, _ = self._memory_uses(self.memory)
        own = [
            use
            for name, value in self.inputs.items()
            for use in _template_reads(("inputs", name), value)
        ]
        return [*own, *memory_reads]

    def writes(self) -> list[FieldUse]:
        _, memory_writes = self._memory_uses(self.memory)
        return [FieldUse(("output",), self.output), *memory_writes]


Node = Annotated[
    LLMNode | ToolNode | RouterNode | LoopNode | ParallelNode | ApprovalNode | AgentNode,
    Field(discriminator="kind"),
]
AnyNode = (
    LLMNode
    | HttpRequestNode
    | FileReadNode
    | FileWriteNode
    | CalculatorNode
    | CurrentTimeNode
    | JsonPathNode
    | McpToolNode
    | RouterNode
    | LoopNode
    | ParallelNode
    | ApprovalNode
    | AgentNode
)
TOOL_NODE_CLASSES = {
    "http_request": HttpRequestNode,
    "file_read": FileReadNode,
    "file_write": FileWriteNode,
    "calculator": CalculatorNode,
    "current_time": CurrentTimeNode,
    "json_path": JsonPathNode,
    "mcp": McpToolNode,
}
# The built-in tools (which a tool-using node may offer too), then MCP servers' tools.
TOOL_NODE_NAMES = (*TOOL_NAMES, "mcp")
assert tuple(TOOL_NODE_CLASSES) == TOOL_NODE_NAMES


# --- edges, schedules, pricing ---------------------------------------------------------------


class Edge(StrictModel):
    """``from`` a node (or START) ``to`` a node (or END)."""

    from_: Source = Field(alias="from")
    to: Target


def _check_cron(value: str) -> str:
    fields = value.split()
    if not value.startswith("@") and len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    if not croniter.is_valid(value):
        try:
            croniter(value)
        except (ValueError, KeyError) as error:
            detail = re.sub(r"^\[.*?\]\s*", "", str(error))
            raise ValueError(f"invalid cron expression '{value}': {detail}") from None
        raise ValueError("invalid cron expression")
    return value


MAX_CATCH_UP = 100


class Schedule(StrictModel):
    """Start a run on a cron schedule with these inputs."""

    cron: Annotated[str, AfterValidator(_check_cron)] = Field(
        description="5 fields: minute hour day month weekday, e.g. '0 8 * * 1-5'"
    )
    timezone: TimeZone = "UTC"
    inputs: dict[str, JsonValue] = {}
    description: str = ""
    catch_up: Literal["none", "latest", "all"] = Field(
        default="none",
        description=(
            "Ticks missed while no worker ran (older than two minutes): none skips them, "
            "latest starts the most recent one, all starts up to max_catch_up of them"
        ),
    )
    max_catch_up: int = Field(
        default=10,
        ge=1,
        le=MAX_CATCH_UP,
        description="With catch_up: all, the most missed ticks started (the latest ones)",
    )

    @model_validator(mode="after")
    def _bound_only_for_all(self) -> Schedule:
        if "max_catch_up" in self.model_fields_set and self.catch_up != "all":
            raise ValueError(
                f"max_catch_up only applies with catch_up: all (this schedule has "
                f"catch_up: {self.catch_up})"
            )
        return self


class ModelPrice(StrictModel):
    """US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


# --- the workflow ----------------------------------------------------------------------------


class WorkflowConfig(StrictModel):
    """A workflow: typed state, LLM defaults, nodes and the edges between them."""

    schema_version: Literal[1] = Field(description="The version of this language: 1.")
    name: Slug
    description: str = ""
    state: dict[FieldName, StateField] = {}
    llm: LLMConfig = LLMConfig()
    nodes: list[Node] = Field(min_length=1)
    edges: list[Edge]
    memory: MemoryConfig | None = None
    schedules: list[Schedule] = []
    pricing: dict[Annotated[str, Field(min_length=1)], ModelPrice] = Field(
        default={}, description="Model name -> cost per million tokens; extends the built-in table."
    )
    mcp_servers: dict[ServerName, McpServerConfig] = Field(
        default={},
        description="MCP servers this workflow's nodes may call (see also MCP_SERVERS_FILE).",
    )
    mcp: bool = Field(
        default=True,
        description="Offer this workflow as a tool of the platform's MCP server (/mcp, mcp serve).",
    )

    def get_node(self, node_id: str) -> AnyNode | None:
        """The node with this id, or None."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def effective_llm(self, node: LLMNode) -> LLMConfig:
        """The workflow's LLM settings with the node's overrides applied."""
        return self.llm.merged(node.llm)

    def structured_output_schema(self, node: LLMNode) -> dict[str, Any] | None:
        """The JSON Schema the answer of an llm node must follow: None for free text (one
        str output), else an object whose keys are the output fields, typed by the state."""
        if node.output is not None:
            spec = self.state.get(node.output)
            if spec is None or spec.type == "str":
                return None
        properties = {
            name: self.state[name].json_schema()
            for name in node.output_fields
            if name in self.state
        }
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
