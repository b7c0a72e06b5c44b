"""Every stored workflow as an MCP tool: served at the dashboard's /mcp (streamable HTTP) and
by `configurable-agents mcp serve` (stdio).

A tool is a live workflow whose latest version validates and does not say ``mcp: false``:
its name is the workflow's, its input schema the workflow's typed inputs, its output schema
the workflow's outputs (configurable_agents/config/interface.py). Calling it starts a run
(through the queue, like every other entry point, or in this process for ``mcp serve``
without a worker), sends a progress notification as each step finishes, and answers the
run's outputs: as structured content, and as text (the one text output as it is, else JSON).
A run that fails, waits for a person's approval or outlasts MCP_CALL_TIMEOUT_SECONDS answers
an error result saying so, with the run's id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents import __version__
from configurable_agents.config.errors import ConfigError, InvalidInputsError
from configurable_agents.config.interface import input_schema, output_names, output_schema
from configurable_agents.config.loader import load_config
from configurable_agents.config.schema import WorkflowConfig
from configurable_agents.queue.dispatch import cancel_run, start_run
from configurable_agents.queue.errors import DispatchError
from configurable_agents.settings import Settings
from configurable_agents.storage.errors import StorageError
from configurable_agents.storage.models import Run, RunStep
from configurable_agents.storage.repositories import steps, workflows
from configurable_agents.storage.states import RunState

log = logging.getLogger(__name__)
# How often a call reads its run while it waits (a step takes milliseconds to seconds).
POLL_SECONDS = 0.05
SETTLED = (*RunState.FINISHED, RunState.AWAITING_APPROVAL)
INSTRUCTIONS = (
    "Each tool runs a stored configurable-agents workflow with the arguments as its inputs "
    "and answers its outputs; progress notifications follow its steps."
)

StartRun = Callable[[int, dict[str, Any]], str]
"""Starts a run of a workflow (id, inputs) and returns its id (through the queue by default)."""


@dataclass(frozen=True)
class ServedTool:
    """A workflow as a tool."""

    workflow_id: int
    name: str
    config: WorkflowConfig

    def tool(self) -> types.Tool:
        """The workflow as the MCP listing shows it."""
        config = self.config
        return types.Tool(
            name=self.name,
            description=config.description or f"Run the workflow {self.name}.",
            input_schema=input_schema(config),
            output_schema=output_schema(config),
        )

    def answer(self, run: Run) -> types.CallToolResult:
        """The completed run's outputs as structured content and as text."""
        outputs = run.outputs or {}
        names = output_names(self.config)
        chosen = {name: outputs.get(name) for name in names}
        if len(names) == 1 and isinstance(chosen[names[0]], str):
            text = chosen[names[0]]
        else:
            text = json.dumps(chosen, ensure_ascii=False, default=str)
        return types.CallToolResult(
            content=[types.TextContent(text=text)], structured_content=chosen, is_error=False
        )


@lru_cache(maxsize=256)
def _parsed(text: str, name: str) -> WorkflowConfig | None:
    """A stored version's config, or None when it no longer validates (parsed once)."""
    try:
        return load_config(text, filename=f"{name}.yaml")
    except ConfigError:
        return None


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


class WorkflowTools:
    """The workflows of one database as MCP tools; ``start`` decides where runs execute."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        start: StartRun | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.start = start or self._queue_start

    # --- reading ---------------------------------------------------------------------------

    def served(self) -> list[ServedTool]:
        """Every workflow offered as a tool, by name."""
        found = []
        with self.session_factory() as session:
            for workflow in workflows.list_workflows(session, limit=10_000):
                version = workflows.get_version(session, workflow.id)
                config = _parsed(version.config_yaml, workflow.name) if version else None
                if config is not None and config.mcp:
                    found.append(ServedTool(workflow.id, workflow.name, config))
        return sorted(found, key=lambda tool: tool.name)

    def find(self, name: str) -> ServedTool | None:
        """The tool of that name, or None."""
        with self.session_factory() as session:
            workflow = workflows.get_by_name(session, name)
            version = workflows.get_version(session, workflow.id) if workflow else None
            if workflow is None or version is None:
                return None
            config = _parsed(version.config_yaml, workflow.name)
        if config is None or not config.mcp:
            return None
        return ServedTool(workflow.id, workflow.name, config)

    def _queue_start(self, workflow_id: int, inputs: dict[str, Any]) -> str:
        run = start_run(
            self.settings,
            self.session_factory,
            workflow_id=workflow_id,
            inputs=inputs,
            trigger="mcp",
        )
        return run.id

    def read(self, run_id: str, seen: int) -> tuple[Run, list[RunStep]]:
        """The run and its steps after the first ``seen`` that finished (in order)."""
        with self.session_factory() as session:
            run = session.get(Run, run_id)
            assert run is not None, f"run {run_id} vanished"
            finished = [
                step
                for step in steps.list_for_run(session, run_id)
                if step.state in (steps.COMPLETED, steps.FAILED)
            ]
            session.expunge_all()
        return run, finished[seen:]

    # --- a call ----------------------------------------------------------------------------

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        progress: Callable[[float, str], Any],
    ) -> types.CallToolResult:
        """Run the workflow and answer its outputs (or an error result saying why not)."""
        served = await asyncio.to_thread(self.find, name)
        if served is None:
            known = ", ".join(tool.name for tool in await asyncio.to_thread(self.served))
            return _error(f"unknown tool '{name}': the tools are the workflows ({known or 'none'})")
        try:
            run_id = await asyncio.to_thread(self.start, served.workflow_id, arguments)
        except InvalidInputsError as error:
            return _error(f"workflow {name}: invalid arguments: {'; '.join(error.problems)}")
        except (DispatchError, StorageError, ConfigError) as error:
            return _error(f"workflow {name}: the run was not started: {error}")
        try:
            run = await self._follow(run_id, progress)
        except asyncio.CancelledError:
            # The client gave up on the call: the run stops too.
            await asyncio.to_thread(cancel_run, self.session_factory, run_id)
            raise
        if run is None:
            seconds = self.settings.mcp_call_timeout_seconds
            return _error(
                f"run {run_id} of {name} is still running after MCP_CALL_TIMEOUT_SECONDS="
                f"{seconds:g}; follow it at {self.settings.dashboard_url}/runs/{run_id}"
            )
        if run.state == RunState.COMPLETED:
            return served.answer(run)
        if run.state == RunState.AWAITING_APPROVAL:
            return _error(
                f"run {run_id} of {name} waits for a person's approval: decide at "
                f"{self.settings.dashboard_url}/runs/{run_id}"
            )
        return _error(f"run {run_id} of {name} {run.state}: {run.error_type}: {run.error_message}")

    async def _follow(self, run_id: str, progress: Callable[[float, str], Any]) -> Run | None:
        """Report each finished step until the run settles; None after the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.mcp_call_timeout_seconds
        seen = 0
        while True:
            run, new = await asyncio.to_thread(self.read, run_id, seen)
            for step in new:
                seen += 1
                await progress(float(seen), f"step {step.node} {step.state}")
            if run.state in SETTLED:
                return run
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)


def build_server(tools: WorkflowTools) -> Server[Any]:
    """The MCP server (low-level SDK server) offering ``tools``."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        served = await asyncio.to_thread(tools.served)
        return types.ListToolsResult(tools=[tool.tool() for tool in served])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        async def progress(done: float, message: str) -> None:
            # A no-op when the client asked for no progress.
            await ctx.session.report_progress(done, None, message)

        return await tools.call(params.name, dict(params.arguments or {}), progress)

    return Server(
        "configurable-agents",
        version=__version__,
        title="configurable-agents workflows",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
