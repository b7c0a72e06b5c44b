"""Conversations in the database: every message stored before any work starts, each
turn's config remembered, Save as a workflow (a new version when it exists), Run now,
Edit in chat for a stored workflow, and undo.

The web app calls this; it knows nothing about Gradio. A message's ``meta`` records what
produced it (``mode``), whether it changed the config (``changed`` with ``config_yaml``),
its progress lines, and links to what was saved or run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.builder.builder import Builder
from configurable_agents.builder.events import MODE_COMMAND, Progress, TurnResult
from configurable_agents.builder.secrets import redact, secret_paths
from configurable_agents.config import (
    ConfigError,
    InvalidInputsError,
    WorkflowConfig,
    coerce_inputs,
    config_to_data,
    config_to_yaml,
    input_fields,
    load_config,
    validate_text,
)
from configurable_agents.queue.dispatch import start_run
from configurable_agents.queue.errors import REFUSALS
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import ChatSessionNotFoundError
from configurable_agents.storage.repositories import chat as chats
from configurable_agents.storage.repositories import workflows

log = logging.getLogger(__name__)

DEFAULT_TITLE = "New workflow"
TITLE_LENGTH = 80


@dataclass(frozen=True)
class StoredMessage:
    """A message as the UI shows it."""

    id: int
    role: str
    content: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class SessionSummary:
    """A past conversation in the list."""

    id: str
    title: str
    updated_at: datetime
    workflow_id: int | None


@dataclass
class ChatView:
    """Everything the page shows for one conversation."""

    session_id: str
    title: str
    messages: list[StoredMessage]
    config_yaml: str | None
    workflow_id: int | None
    workflow_name: str | None = None
    workflow_version: int | None = None
    saved_yaml: str | None = None

    @property
    def config(self) -> WorkflowConfig | None:
        """The current config (always a valid one), or None."""
        return _parse(self.config_yaml)

    @property
    def unsaved(self) -> bool:
        """Whether the current config differs from the saved version."""
        return self.config_yaml is not None and self.config_yaml != self.saved_yaml


@dataclass
class ChatTurn:
    """What an action did: the conversation after it, and whether it worked."""

    view: ChatView
    ok: bool = True
    restore_input: bool = False
    issues: list[str] = field(default_factory=list)


def _parse(text: str | None) -> WorkflowConfig | None:
    if not text:
        return None
    try:
        return load_config(text)
    except ConfigError:
        return None


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 3].rsplit(" ", 1)[0] + "..."


class ChatService:
    """The chat builder's conversations over the shared database."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], builder: Builder
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.builder = builder

    # --- links -------------------------------------------------------------------------------

    def workflow_url(self, workflow_id: int) -> str:
        return f"{self.settings.dashboard_url}/workflows/{workflow_id}"

    def run_url(self, run_id: str) -> str:
        return f"{self.settings.dashboard_url}/runs/{run_id}"

    # --- sessions ----------------------------------------------------------------------------

    def list_sessions(self, limit: int = 50) -> list[SessionSummary]:
        """Past conversations, the most recent first."""
        with self.session_factory() as session:
            return [
                SessionSummary(chat.id, chat.title, chat.updated_at, chat.workflow_id)
                for chat in chats.list_sessions(session, limit=limit)
            ]

    def create_session(
        self,
        *,
        title: str = DEFAULT_TITLE,
        workflow_id: int | None = None,
        config_yaml: str | None = None,
    ) -> str:
        with session_scope(self.session_factory) as session:
            return chats.create_session(
                session, title=title, workflow_id=workflow_id, config_yaml=config_yaml
            ).id

    def exists(self, session_id: str) -> bool:
        if not session_id:
            return False
        with self.session_factory() as session:
            try:
                chats.get(session, session_id)
            except ChatSessionNotFoundError:
                return False
            return True

    def view(self, session_id: str) -> ChatView:
        """A conversation with its messages; raises ChatSessionNotFoundError."""
        with self.session_factory() as session:
            chat = chats.load(session, session_id)
            view = ChatView(
                session_id=chat.id,
                title=chat.title,
                messages=[
                    StoredMessage(m.id, m.role, m.content, dict(m.meta or {}))
                    for m in chat.messages
                ],
                config_yaml=chat.config_yaml,
                workflow_id=chat.workflow_id,
            )
            if chat.workflow_id is not None:
                workflow = workflows.get(session, chat.workflow_id)
                if workflow is None:
                    view.workflow_id = None
                else:
                    latest = workflows.get_version(session, workflow.id)
                    view.workflow_name = workflow.name
                    view.workflow_version = latest.version if latest else None
                    view.saved_yaml = latest.config_yaml if latest else None
            return view

    def _append(
        self, session_id: str, role: str, content: str, meta: dict[str, Any] | None = None
    ) -> None:
        with session_scope(self.session_factory) as session:
            chats.append_message(session, session_id, role=role, content=content, meta=meta or {})

    def _set_config(self, session_id: str, config_yaml: str | None) -> None:
        with session_scope(self.session_factory) as session:
            chats.set_config(session, session_id, config_yaml)

    def _ensure(self, session_id: str | None) -> str:
        return session_id if session_id and self.exists(session_id) else self.create_session()

    def open_workflow(self, workflow_id: int, *, current_session: str | None = None) -> ChatTurn:
        """Edit in chat: resume the conversation already on this workflow, or start one
        with its latest version loaded."""
        if current_session and self.exists(current_session):
            view = self.view(current_session)
            if view.workflow_id == workflow_id:
                return ChatTurn(view)
        with self.session_factory() as session:
            workflow = workflows.get(session, workflow_id)
            latest = workflows.get_version(session, workflow_id) if workflow else None
            if workflow is None or latest is None:
                found = None
            else:
                found = (workflow.name, latest.version, latest.config_yaml)
        if found is None:
            return self._fail(
                self._ensure(current_session),
                f"There is no workflow with id {workflow_id} (it may have been deleted). "
                "Describe a new one, or pick a template.",
            )
        name, version, text = found
        if _parse(text) is None:
            return self._fail(
                self._ensure(current_session),
                f"Workflow **{name}** v{version} does not validate, so it cannot be edited here; "
                f"fix it in the dashboard editor: {self.workflow_url(workflow_id)}",
            )
        session_id = self.create_session(
            title=f"Edit {name}", workflow_id=workflow_id, config_yaml=text
        )
        self._append(
            session_id,
            "assistant",
            f"Loaded **{name}** v{version} from the dashboard. Tell me what to change; "
            f"Save adds version {version + 1}.",
            {"mode": MODE_COMMAND, "changed": True, "config_yaml": text, "ok": True},
        )
        return ChatTurn(self.view(session_id))

    # --- turns -------------------------------------------------------------------------------

    def send(
        self, session_id: str | None, text: str, *, mode: str | None = None
    ) -> Generator[Progress, None, ChatTurn]:
        """Store the message, run a builder turn (yielding its progress), store the reply."""
        session_id = self._ensure(session_id)
        stored, redacted = redact(text.strip())
        if not stored:
            return ChatTurn(self.view(session_id), ok=False)
        # Stored before any work: a failure later loses nothing the user typed.
        self._append(session_id, "user", stored, {"redacted": redacted} if redacted else {})
        view = self.view(session_id)
        if view.title == DEFAULT_TITLE:
            with session_scope(self.session_factory) as session:
                chats.set_title(session, session_id, _title(stored))
        progress: list[str] = []
        turn = self.builder.turn(text, view.config, mode=mode)
        try:
            while True:
                event = next(turn)
                progress.append(event.message)
                yield event
        except StopIteration as stop:
            result: TurnResult = stop.value
        except Exception as error:  # a bug must not lose the message or show a traceback
            log.exception("chat turn failed")
            result = TurnResult(
                f"Something went wrong while building ({type(error).__name__}: {error}). "
                "Your message is kept and back in the box; try again or say it differently.",
                view.config,
                MODE_COMMAND,
                ok=False,
                restore_input=True,
            )
        result.progress = progress
        if result.action:
            return self._action(session_id, result)
        return self._record(session_id, result)

    def _record(self, session_id: str, result: TurnResult) -> ChatTurn:
        meta: dict[str, Any] = {
            "mode": result.mode,
            "ok": result.ok,
            "progress": result.progress,
            "details": _jsonable(result.details),
        }
        if result.choices:
            meta["choices"] = [{"label": label, "value": value} for label, value in result.choices]
        if result.changed and result.config is not None:
            text = config_to_yaml(result.config)
            meta |= {"changed": True, "config_yaml": text}
            self._set_config(session_id, text)
        self._append(session_id, "assistant", result.reply, meta)
        return ChatTurn(self.view(session_id), ok=result.ok, restore_input=result.restore_input)

    def _action(self, session_id: str, result: TurnResult) -> ChatTurn:
        if result.action == "save":
            return self.save(session_id)
        if result.action == "run":
            return self.run(session_id, "")
        if result.action == "undo":
            return self.undo(session_id)
        # new: an empty config in the same conversation (undo brings the old one back)
        self._set_config(session_id, None)
        self._append(
            session_id,
            "assistant",
            "Started over: describe the new workflow. Say *undo* to get the previous one back.",
            {"mode": MODE_COMMAND, "changed": True, "config_yaml": None, "ok": True},
        )
        return ChatTurn(self.view(session_id))

    def undo(self, session_id: str) -> ChatTurn:
        """Go back to the config before the last change."""
        stack: list[str | None] = [None]
        for message in self.view(session_id).messages:
            meta = message.meta
            if message.role != "assistant" or not meta.get("changed"):
                continue
            if meta.get("undo"):
                if len(stack) > 1:
                    stack.pop()
            else:
                stack.append(meta.get("config_yaml"))
        if len(stack) <= 1:
            return self._fail(session_id, "There is nothing to undo.")
        stack.pop()
        previous = stack[-1]
        self._set_config(session_id, previous)
        config = _parse(previous)
        said = (
            f"Back to the previous config (**{config.name}**)." if config else "Back to no config."
        )
        self._append(
            session_id,
            "assistant",
            said,
            {
                "mode": MODE_COMMAND,
                "changed": True,
                "undo": True,
                "config_yaml": previous,
                "ok": True,
            },
        )
        return ChatTurn(self.view(session_id))

    def apply_yaml(self, session_id: str | None, text: str) -> ChatTurn:
        """The user's own edit of the YAML: kept when it validates, else the issues."""

        session_id = self._ensure(session_id)
        issues = [str(issue) for issue in validate_text(text, "config.yaml")]
        if not issues:
            issues = [
                f"config.yaml: {path}: this looks like an API key or other secret; keep it in "
                "an environment variable and give its NAME as api_key_env"
                for path in secret_paths(config_to_data(load_config(text)))
            ]
        if issues:
            return ChatTurn(self.view(session_id), ok=False, issues=issues)
        config = load_config(text)
        stored = config_to_yaml(config)
        self._set_config(session_id, stored)
        self._append(
            session_id,
            "assistant",
            f"Applied your edit of the YAML: **{config.name}** is valid.",
            {"mode": "yaml", "changed": True, "config_yaml": stored, "ok": True},
        )
        return ChatTurn(self.view(session_id))

    # --- save and run ------------------------------------------------------------------------

    def save(self, session_id: str) -> ChatTurn:
        """Store the current config: a new version of the conversation's workflow, or a new
        workflow (under a free name when the name belongs to another workflow)."""
        view = self.view(session_id)
        config = view.config
        if config is None:
            return self._fail(session_id, "There is no workflow to save yet.")
        note = "from the chat builder"
        renamed_from = None
        with session_scope(self.session_factory) as session:
            linked = workflows.get(session, view.workflow_id) if view.workflow_id else None
            if linked is not None and linked.name == config.name:
                text = config_to_yaml(config)
                version = workflows.add_version(
                    session, linked, text, description=config.description, note=note
                )
                workflow = linked
            else:
                name = config.name
                if workflows.get_by_name(session, name) is not None:
                    renamed_from, name = name, _free_name(session, name)
                    config = config.model_copy(update={"name": name})
                text = config_to_yaml(config)
                workflow, version = workflows.save(
                    session,
                    name=name,
                    config_yaml=text,
                    description=config.description,
                    source="chat",
                    note=note,
                )
            chats.set_workflow(session, session_id, workflow.id)
            chats.set_config(session, session_id, text)
            saved = {"workflow_id": workflow.id, "name": workflow.name, "version": version.version}
        url = self.workflow_url(saved["workflow_id"])
        renamed = (
            f" The name '{renamed_from}' belongs to another workflow, so I saved it as '{saved['name']}'."
            if renamed_from
            else ""
        )
        needs = [field.name for field in input_fields(config) if field.required]
        run_hint = (
            f"Run now with the inputs {', '.join(f'`{n}`' for n in needs)} (fill them in under *Run inputs*)."
            if needs
            else "Run now starts it on the workers."
        )
        reply = (
            f"Saved **{saved['name']}** version {saved['version']}.{renamed} "
            f"[Open it in the dashboard]({url}). {run_hint}"
        )
        meta = {"mode": MODE_COMMAND, "ok": True, "saved": saved | {"url": url}}
        if renamed_from:
            meta |= {"changed": True, "config_yaml": text}
        self._append(session_id, "assistant", reply, meta)
        return ChatTurn(self.view(session_id))

    def run(self, session_id: str, inputs_text: str) -> ChatTurn:
        """Save if needed, check the inputs against the workflow, and queue a run."""

        view = self.view(session_id)
        config = view.config
        if config is None:
            return self._fail(session_id, "There is no workflow to run yet.")
        try:
            values = json.loads(inputs_text) if inputs_text.strip() else {}
        except ValueError as error:
            return self._fail(session_id, f"The run inputs are not valid JSON: {error}.")
        if not isinstance(values, dict):
            return self._fail(
                session_id, 'The run inputs must be a JSON object, e.g. {"text": "..."}.'
            )
        try:
            inputs = coerce_inputs(config, values)
        except InvalidInputsError as error:
            return self._fail(
                session_id, "The run inputs do not fit: " + "; ".join(error.problems) + "."
            )
        if view.unsaved or view.workflow_id is None:
            view = self.save(session_id).view
        if view.workflow_id is None:  # pragma: no cover - save always links the session
            return self._fail(session_id, "The workflow could not be saved, so it cannot run.")
        try:
            run = start_run(
                self.settings,
                self.session_factory,
                workflow_id=view.workflow_id,
                inputs=inputs,
                trigger="chat",
            )
        except REFUSALS as error:
            return self._fail(session_id, f"The run could not start: {error}.")
        except Exception as error:  # the queue is down: say so instead of a traceback
            return self._fail(
                session_id,
                f"The run could not be queued ({type(error).__name__}: {error}); check QUEUE_URL.",
            )
        url = self.run_url(run.id)
        self._append(
            session_id,
            "assistant",
            f"Run `{run.id}` of **{view.workflow_name}** v{view.workflow_version} is queued; a worker "
            f"picks it up. [Watch it in the dashboard]({url}).",
            {"mode": MODE_COMMAND, "ok": True, "run": {"run_id": run.id, "url": url}},
        )
        return ChatTurn(self.view(session_id))

    def _fail(self, session_id: str, message: str) -> ChatTurn:
        self._append(session_id, "assistant", message, {"mode": MODE_COMMAND, "ok": False})
        return ChatTurn(self.view(session_id), ok=False)


def _free_name(session: Session, name: str) -> str:
    index = 2
    while workflows.get_by_name(session, f"{name}-{index}") is not None:
        index += 1
    return f"{name}-{index}"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def sample_inputs(config: WorkflowConfig | None) -> str:
    """A JSON object with every input of the config, for the Run inputs box."""
    if config is None:
        return "{}"
    values: dict[str, Any] = {}
    for item in input_fields(config):
        if item.default is not None:
            values[item.name] = item.default
        elif item.type in ("int", "float"):
            values[item.name] = 0
        elif item.type == "bool":
            values[item.name] = False
        elif item.type.startswith("list"):
            values[item.name] = []
        elif item.values:
            values[item.name] = item.values[0]
        else:
            values[item.name] = ""
    return json.dumps(values, indent=2, ensure_ascii=False)
