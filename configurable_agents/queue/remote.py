"""Remote agents as run targets: register (fetching the input schema), describe, dispatch.

A run dispatched to a remote agent is an ordinary queued run of a one-node workflow,
``agent-<name>``, stored on first use: a worker executes its `agent` node, which calls the
agent with the node's timeout and retries and records the step like an LLM call. The
workflow's state is generated from the agent's input schema, so the dashboard's run form,
input checking and the run page work as for any workflow.

The protocol itself is described in :mod:`configurable_agents.engine.remote_agents`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.config.dump import config_to_yaml
from configurable_agents.config.errors import InvalidInputsError
from configurable_agents.config.inputs import InputField, input_fields, input_problems
from configurable_agents.config.loader import config_from_data
from configurable_agents.config.names import AGENT_NAME_PATTERN
from configurable_agents.engine.remote_agents import RemoteAgentError, fetch_input_schema
from configurable_agents.queue.dispatch import start_run
from configurable_agents.queue.errors import AgentUnavailableError, RegistrationError
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import AgentNotFoundError
from configurable_agents.storage.models import Agent, Run
from configurable_agents.storage.repositories import agents, workflows

WORKFLOW_PREFIX = "agent-"
OUTPUT_FIELD = "result"
# Seconds one call of a dispatched run may take (the agent node's timeout).
DISPATCH_TIMEOUT = 300.0
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


@dataclass(frozen=True)
class Registered:
    """A newly registered remote agent and its token (shown only this once)."""

    agent: Agent
    token: str


def register_remote_agent(
    session_factory: sessionmaker[Session],
    *,
    name: str,
    url: str,
    ttl_seconds: float = 60.0,
    concurrency: int = 1,
    version: str = "",
) -> Registered:
    """Fetch the agent's input schema from ``<url>/schema`` and register it.

    The fetch is bounded (see fetch_input_schema): http(s) only, redirects on the agent's
    own host only, SCHEMA_MAX_BYTES and SCHEMA_FETCH_SECONDS.

    An earlier registration with the same name and URL is retired (a restarted agent
    registers again). Raises RegistrationError saying what is wrong.
    """

    if not re.fullmatch(AGENT_NAME_PATTERN, name) or len(name) > 64:
        raise RegistrationError(
            f"'{name}' is not a valid agent name: letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64 characters"
        )
    try:
        schema = fetch_input_schema(url)
        _fields_of(schema)  # fails now, not at the first dispatch
    except RemoteAgentError as error:
        raise RegistrationError(str(error)) from None
    with session_scope(session_factory) as session:
        for old in agents.list_agents(session, kind=agents.REMOTE):
            if old.name == name and old.url == url and old.deregistered_at is None:
                agents.deregister(session, old.id)
        agent, token = agents.register_remote(
            session,
            name=name,
            url=url,
            input_schema=schema,
            concurrency=concurrency,
            ttl_seconds=ttl_seconds,
            version=version,
        )
    return Registered(agent, token)


def agent_json(agent: Agent, liveness: str) -> dict[str, Any]:
    """An agent (a worker or a remote agent) as the CLI and the JSON API show it."""
    return {
        "id": agent.id,
        "kind": agent.kind,
        "name": agent.name,
        "state": liveness,
        "host": agent.host,
        "pid": agent.pid,
        "url": agent.url,
        "version": agent.version,
        "concurrency": agent.concurrency,
        "runs_in_progress": agent.runs_in_progress,
        "ttl_seconds": agent.ttl_seconds,
        "last_heartbeat": agent.last_heartbeat.isoformat(),
        "input_schema": agent.input_schema,
    }


def live_agent(session: Session, name: str) -> Agent:
    """The alive remote agent of this name, or AgentUnavailableError saying why not."""

    candidates = [
        status
        for status in agents.list_with_liveness(session, kind=agents.REMOTE)
        if status.agent.name == name
    ]
    if not candidates:
        raise AgentUnavailableError(f"no remote agent named {name!r} is registered")
    for status in candidates:
        if status.liveness == "alive":
            return status.agent
    last = max(status.agent.last_heartbeat for status in candidates)
    raise AgentUnavailableError(
        f"remote agent {name!r} is {candidates[0].liveness} (last heartbeat "
        f"{last:%Y-%m-%d %H:%M:%S} UTC); it must heartbeat before runs go to it"
    )


def agent_workflow(agent: Agent) -> dict[str, Any]:
    """The one-node workflow (as config data) that hands its inputs to the agent."""
    fields = _fields_of(agent.input_schema or {"type": "object"})
    state: dict[str, Any] = {name: spec for name, (_, spec) in fields.items()}
    # The answer may be any JSON; the engine stores it as it comes.
    state[OUTPUT_FIELD] = {"type": "dict[str, str]", "description": f"What {agent.name} answered"}
    return {
        "schema_version": 1,
        "name": workflow_name(agent.name),
        "description": f"Runs handed to the remote agent {agent.name} at {agent.url}",
        "state": state,
        "nodes": [
            {
                "id": "call",
                "kind": "agent",
                "agent": agent.name,
                "inputs": {prop: "{" + name + "}" for name, (prop, _) in fields.items()},
                "output": OUTPUT_FIELD,
                "timeout": DISPATCH_TIMEOUT,
            }
        ],
        "edges": [{"from": "START", "to": "call"}, {"from": "call", "to": "END"}],
    }


def workflow_name(agent_name: str) -> str:
    """The workflow a remote agent's dispatched runs belong to."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", agent_name.lower()).strip("-") or "agent"
    return (WORKFLOW_PREFIX + slug)[:64]


def form_fields(session: Session, name: str) -> list[InputField]:
    """The typed inputs of the alive agent ``name``, for a run form (the dashboard's
    Orchestrator page builds its form from these, as for a workflow)."""

    agent = live_agent(session, name)
    return input_fields(config_from_data(agent_workflow(agent), filename=f"agent {name}"))


def dispatch_to_agent(
    settings: Settings,
    session_factory: sessionmaker[Session],
    name: str,
    inputs: dict[str, Any],
    *,
    trigger: str = "agent",
) -> Run:
    """Queue a run that hands ``inputs`` to the alive remote agent ``name``.

    Inputs may be typed JSON or text from a form (converted to the schema's types), and
    are checked against the agent's input schema. Raises AgentUnavailableError (409),
    InvalidInputsError (422), QueueFullError (429).
    """
    from jsonschema import Draft202012Validator

    with session_scope(session_factory) as session:
        agent = live_agent(session, name)
        data = agent_workflow(agent)
        config = config_from_data(data, filename=f"agent {name}")
        fields = _fields_of(agent.input_schema or {"type": "object"})
        to_field = {prop: field for field, (prop, _) in fields.items()}
        values = {to_field.get(key, key): value for key, value in inputs.items()}
        typed, problems = input_problems(config, values)
        if not problems:
            by_prop = {fields[field][0]: value for field, value in typed.items()}
            validator = Draft202012Validator(agent.input_schema or {"type": "object"})
            problems = [
                f"input '{'.'.join(str(p) for p in error.absolute_path) or 'inputs'}': "
                f"{error.message}"
                for error in validator.iter_errors(by_prop)
            ]
        if problems:
            raise InvalidInputsError(problems)
        workflow, _ = workflows.save(
            session,
            name=config.name,
            config_yaml=config_to_yaml(config),
            description=config.description,
            source="agent",
        )
        workflow_id = workflow.id
    return start_run(
        settings, session_factory, workflow_id=workflow_id, inputs=typed, trigger=trigger
    )


def _fields_of(schema: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """State fields for the schema's properties: {field name: (property, field spec)}."""

    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    fields: dict[str, tuple[str, dict[str, Any]]] = {}
    for prop, sub in properties.items():
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(prop))
        if not name[:1].isalpha():
            name = "f_" + name
        if name in fields or name == OUTPUT_FIELD:
            raise RemoteAgentError(
                f"input '{prop}' of the schema clashes with another input ('{name}')"
            )
        spec: dict[str, Any] = {"type": _type_of(sub if isinstance(sub, dict) else {}, prop)}
        if isinstance(sub, dict) and isinstance(sub.get("enum"), list):
            spec = {"type": "enum", "values": [str(value) for value in sub["enum"]]}
        if prop in required:
            spec["required"] = True
        elif isinstance(sub, dict) and sub.get("default") is not None:
            spec["default"] = sub["default"]
        if isinstance(sub, dict) and isinstance(sub.get("description"), str):
            spec["description"] = sub["description"]
        fields[name[:64]] = (str(prop), spec)
    return fields


def _type_of(schema: dict[str, Any], prop: str) -> str:
    """Our type for a property's JSON Schema: scalars and lists of scalars only."""

    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in _SCALARS:
        return _SCALARS[kind]
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    if kind == "array" and items.get("type", "string") in _SCALARS:
        return f"list[{_SCALARS[items.get('type', 'string')]}]"
    raise RemoteAgentError(
        f"input '{prop}' is of JSON type {kind!r}: inputs of remote agents must be strings, "
        "integers, numbers, booleans (or enums or lists of those)"
    )


def require_agent(session: Session, agent_id: str) -> Agent:
    """A registered remote agent by id, or AgentNotFoundError (404)."""

    agent = agents.get(session, agent_id)
    if agent is None or agent.kind != agents.REMOTE:
        raise AgentNotFoundError(f"no remote agent with id {agent_id}")
    return agent
