"""The tools a tool-using llm node may offer its model, as the language says them.

``tools: [calculator, {workflow: summarize}, {agent: translator}, {mcp: files, tool: read}]``:
a string is a built-in tool; a mapping names exactly one source (``builtin``, ``workflow``,
``agent`` or ``mcp``) and may ask for a person's approval before each call (``approve``).
The engine turns each reference into the tool the model sees (engine/tool_catalog.py).
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator

from configurable_agents.config.names import AgentName, Slug
from configurable_agents.config.state import StrictModel
from configurable_agents.config.tools import TOOL_NAMES

# What OpenAI and Anthropic accept as a tool (function) name.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DEFAULT_MAX_TOOL_CALLS = 10
MAX_TOOL_CALLS_LIMIT = 100
SOURCES = ("builtin", "workflow", "agent", "mcp")

McpName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


def _check_builtin(value: str) -> str:
    if value not in TOOL_NAMES:
        close = difflib.get_close_matches(value, TOOL_NAMES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(
            f"unknown built-in tool '{value}'{hint}; the built-in tools are "
            f"{', '.join(TOOL_NAMES)} (a stored workflow is {{workflow: NAME}}, a remote "
            "agent {agent: NAME}, an MCP server's tool {mcp: SERVER, tool: NAME})"
        )
    return value


BuiltinName = Annotated[
    str, AfterValidator(_check_builtin), WithJsonSchema({"enum": list(TOOL_NAMES)})
]


def _shorthand(value: Any) -> Any:
    # `- calculator` means {builtin: calculator}.
    return {"builtin": value} if isinstance(value, str) else value


class ToolRef(StrictModel):
    """One tool offered to the model: exactly one of ``builtin``, ``workflow``, ``agent``,
    ``mcp`` (with ``tool`` for one tool of that server, every tool without it)."""

    builtin: BuiltinName | None = None
    workflow: Slug | None = None
    agent: AgentName | None = None
    mcp: McpName | None = None
    tool: McpName | None = Field(default=None, description="With mcp: one tool of the server.")
    approve: bool = Field(default=False, description="Ask a person before each call.")
    description: str | None = Field(
        default=None, max_length=2000, description="What the model is told the tool does."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ToolRef:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a tool names exactly one of builtin, workflow, agent or mcp"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.tool is not None and self.mcp is None:
            raise ValueError("`tool` picks one tool of an MCP server: use it with `mcp`")
        if self.workflow is not None and not re.match(TOOL_NAME_PATTERN, self.workflow):
            raise ValueError(
                f"workflow '{self.workflow}' cannot be a tool name (at most 64 letters, "
                "digits, '_' or '-')"
            )
        return self

    @property
    def source_kind(self) -> str:
        """builtin, workflow, agent or mcp."""
        return next(name for name in SOURCES if getattr(self, name) is not None)

    @property
    def model_name(self) -> str | None:
        """The name the model calls this tool by, when the config decides it (an MCP
        server's tools are named by the server)."""
        if self.builtin is not None:
            return self.builtin
        if self.workflow is not None:
            return self.workflow
        if self.agent is not None:
            return re.sub(r"[^A-Za-z0-9_-]", "_", self.agent)[:64]
        return self.tool

    @property
    def label(self) -> str:
        """How errors name this tool: ``workflow summarize``, ``mcp files/read`` ..."""
        if self.mcp is not None:
            return f"mcp {self.mcp}" + (f"/{self.tool}" if self.tool else "")
        return f"{self.source_kind} {getattr(self, self.source_kind)}"


ToolRefItem = Annotated[ToolRef, BeforeValidator(_shorthand, json_schema_input_type=str | ToolRef)]


def duplicate_tool_names(refs: list[ToolRef]) -> list[str]:
    """Problems with the names the model would see: each once per node."""
    seen: dict[str, int] = {}
    problems = []
    for index, ref in enumerate(refs):
        name = ref.model_name
        if name is None:
            continue
        if name in seen:
            problems.append(
                f"tools[{index}] ({ref.label}) has the same tool name '{name}' as "
                f"tools[{seen[name]}]: the model could not tell them apart"
            )
        else:
            seen[name] = index
    return problems
