"""Workflows served to programs: the run API's three modes and the OpenAI-compatible view of
a workflow (its inputs from a chat message, its answer from its outputs).

Plain functions over a session factory, testable without a server; the routes are in
dashboard/routes/serve.py and dashboard/routes/openai_compat.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.config.inputs import input_names
from configurable_agents.config.interface import output_names
from configurable_agents.config.schema import LLMNode, WorkflowConfig
from configurable_agents.storage.models import Run, Workflow
from configurable_agents.storage.repositories import workflows
from configurable_agents.storage.states import RunState
from dashboard import queries
from dashboard.run_service import checked_text

# How often a sync wait reads the run's state.
SYNC_POLL_SECONDS = 0.02
# A run in these states will not change by itself: a sync wait ends there.
SETTLED = (*RunState.FINISHED, RunState.AWAITING_APPROVAL)
MODEL_PREFIX = "workflow/"


def find_workflow(session: Session, ref: str) -> Workflow:
    """A live workflow by id (all digits) or by name (WorkflowNotFoundError otherwise)."""
    if ref.isdigit():
        found = workflows.get(session, int(ref))
        if found is not None:
            return found
    return workflows.require_by_name(session, ref)


async def wait_settled(
    session_factory: sessionmaker[Session], run_id: str, seconds: float
) -> Run | None:
    """The run once it finished or waits for approval, or None after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        run = await asyncio.to_thread(_read_run, session_factory, run_id)
        if run.state in SETTLED:
            return run
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(SYNC_POLL_SECONDS)


def _read_run(session_factory: sessionmaker[Session], run_id: str) -> Run:
    with session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None, f"run {run_id} vanished"
        session.expunge(run)
        return run


def run_usage(session_factory: sessionmaker[Session], run_id: str) -> tuple[int, int]:
    """(prompt, completion) tokens of every step of the run."""
    with session_factory() as session:
        return queries.run_token_usage(session, run_id)


# --- a workflow as a model -----------------------------------------------------------------


class ChatInputError(InvalidInputsError):
    """The chat message cannot fill the workflow's inputs (the message says how to)."""


@dataclass(frozen=True)
class ServedWorkflow:
    """What the OpenAI view needs of a workflow: how to fill its inputs, what to answer."""

    workflow_id: int
    name: str
    config: WorkflowConfig
    inputs: list[str]
    outputs: list[str]
    # The llm node writing the one text output: its tokens are the streamed answer.
    answer_node: str | None

    @property
    def model_id(self) -> str:
        return MODEL_PREFIX + self.name

    def inputs_from(self, message: str) -> dict[str, Any]:
        """The run's inputs from the last user message: the text itself for a workflow with
        one input, else a JSON object of inputs by name."""
        if len(self.inputs) == 1:
            return {self.inputs[0]: message}
        try:
            values = json.loads(message)
        except ValueError:
            values = None
        if not isinstance(values, dict):
            names = ", ".join(self.inputs) or "none"
            raise ChatInputError(
                [
                    f"workflow {self.name!r} takes several inputs ({names}): send them as a "
                    'JSON object in the last user message, e.g. {"'
                    + (self.inputs[0] if self.inputs else "name")
                    + '": "..."}'
                ]
            )
        return values

    def answer(self, outputs: dict[str, Any] | None) -> str:
        """The text output as it is, or the outputs as JSON."""
        outputs = outputs or {}
        if len(self.outputs) == 1:
            value = outputs.get(self.outputs[0])
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        chosen = {name: outputs.get(name) for name in self.outputs}
        return json.dumps(chosen, ensure_ascii=False, default=str)


def served(workflow: Workflow, config: WorkflowConfig) -> ServedWorkflow:
    """A workflow's inputs, outputs and answer node.

    Its outputs are the fields written by the nodes that lead to END (else every field
    some node writes), inputs excluded.
    """
    inputs = input_names(config.state, config.nodes)
    outputs = output_names(config)
    answer_node = None
    if len(outputs) == 1 and config.state[outputs[0]].type == "str":
        writers = [
            node for node in config.nodes if isinstance(node, LLMNode) and node.output == outputs[0]
        ]
        if len(writers) == 1:
            answer_node = writers[0].id
    return ServedWorkflow(workflow.id, workflow.name, config, inputs, outputs, answer_node)


def served_workflow(session: Session, model: str) -> ServedWorkflow:
    """The workflow a model id names (``workflow/<name>``; the bare name works too)."""
    name = model.removeprefix(MODEL_PREFIX)
    workflow = workflows.require_by_name(session, name)
    checked = checked_text(queries.stored_version(session, workflow.id).config_yaml)
    if checked.config is None:
        raise InvalidInputsError(
            [f"workflow {name!r}: its latest version does not validate; fix it first"]
        )
    return served(workflow, checked.config)


def served_models(session: Session) -> list[dict[str, Any]]:
    """Every live workflow as an OpenAI model entry."""
    return [
        {
            "id": MODEL_PREFIX + workflow.name,
            "object": "model",
            "created": int(workflow.created_at.timestamp()),
            "owned_by": "configurable-agents",
        }
        for workflow in workflows.list_workflows(session, limit=10_000)
    ]


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (text parts joined), or InvalidInputsError."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    raise ChatInputError(["messages: no user message to fill the workflow's inputs"])
