"""Remote agents: the small JSON-over-HTTP protocol, and calling one from an `agent` node.

A remote agent is any HTTP endpoint that runs a named piece of work, for instance a
deployed copy of this platform. Protocol (version 1), all bodies JSON:

``GET <url>/schema``
    Answers 200 with the JSON Schema of the agent's inputs: an object schema,
    ``{"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}``.
    (Wrapped as ``{"input_schema": {...}}`` is accepted too.) The platform fetches it when
    the agent registers and stores it: run forms are generated from it and dispatched
    inputs are checked against it.

``POST <url>`` with ``{"inputs": {...}, "run_id": "<calling run>"}``
    (an optional input that was not given is sent as ``null``)
    Answers 200 with ``{"outputs": <any JSON>}`` (a body without ``outputs`` is taken
    whole). 408/409/429/5xx and network errors are retried with backoff (at most three
    tries, within the node's ``timeout`` each); any other status fails the step with the
    agent's message.

Registering, heartbeating and leaving go through this platform's JSON API
(``dashboard/routes/agent_api.py``): ``POST /api/v1/agents/register`` with ``{"name",
"url", "ttl_seconds"}`` answers the agent's id and a token, shown only then; the agent
then sends ``POST /api/v1/agents/{id}/heartbeat`` with ``Authorization: Bearer <token>``
at least once per ``ttl_seconds`` and ``DELETE /api/v1/agents/{id}`` when it stops. An agent
is alive within one TTL of its last heartbeat, stale up to three, dead after: a dead agent
is skipped with a clear error, never waited on.
"""

from __future__ import annotations

import time
from typing import Any

from configurable_agents.engine.context import RunContext
from configurable_agents.llm.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from configurable_agents.storage.repositories import agents

SCHEMA_PATH = "/schema"


class RemoteAgentError(Exception):
    """The remote agent is unknown, dead, or failed; the message says which and why."""


def schema_url(url: str) -> str:
    """Where an agent publishes its input schema."""
    return url.rstrip("/") + SCHEMA_PATH


def fetch_input_schema(url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """GET the agent's input schema and check it is an object JSON Schema.

    Raises RemoteAgentError saying what is wrong (unreachable, not JSON, not a schema).
    """
    import httpx
    from jsonschema import Draft202012Validator, SchemaError

    where = schema_url(url)
    try:
        response = httpx.get(where, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as error:
        raise RemoteAgentError(
            f"cannot fetch the input schema from {where}: {type(error).__name__}"
        ) from None
    if not response.is_success:
        raise RemoteAgentError(f"{where} answered HTTP {response.status_code}, not a schema")
    try:
        schema = response.json()
    except ValueError:
        raise RemoteAgentError(f"{where} did not answer JSON") from None
    if isinstance(schema, dict) and isinstance(schema.get("input_schema"), dict):
        schema = schema["input_schema"]
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise RemoteAgentError(f'{where} must answer an object JSON Schema ("type": "object")')
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise RemoteAgentError(
            f"{where} answered an invalid JSON Schema: {error.message}"
        ) from None
    return schema


def find_agent(ctx: RunContext, name: str) -> tuple[str, str]:
    """(agent id, URL) of the live remote agent with this name; raises when none is alive."""

    with ctx.session_factory() as session:
        candidates = [a for a in agents.list_agents(session, kind="remote") if a.name == name]
        if not candidates:
            raise RemoteAgentError(f"no remote agent named {name!r} is registered")
        alive = [a for a in candidates if agents.liveness(a) == "alive" and a.url]
        if not alive:
            last = max(a.last_heartbeat for a in candidates)
            raise RemoteAgentError(
                f"remote agent {name!r} is not alive (last heartbeat {last.isoformat()}); skipped"
            )
        return alive[0].id, str(alive[0].url)


def call_remote_agent(
    ctx: RunContext, name: str, inputs: dict[str, Any], *, timeout: float
) -> tuple[Any, int]:
    """POST {"inputs": ...} to the agent; returns (its "outputs", or the whole JSON answer; attempts)."""
    import httpx

    _, url = find_agent(ctx, name)
    policy = RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        retry_after = None
        try:
            response = httpx.post(
                url, json={"inputs": inputs, "run_id": ctx.run_id}, timeout=timeout
            )
        except httpx.TimeoutException:
            problem = f"no answer within {timeout} s"
        except httpx.TransportError as error:
            problem = f"unreachable ({type(error).__name__})"
        else:
            if response.is_success:
                try:
                    body = response.json()
                except ValueError:
                    raise RemoteAgentError(
                        f"remote agent {name!r} at {url} answered non-JSON"
                    ) from None
                value = body.get("outputs", body) if isinstance(body, dict) else body
                return value, attempt
            if response.status_code not in RETRYABLE_STATUSES:
                raise RemoteAgentError(
                    f"remote agent {name!r} at {url} answered HTTP {response.status_code}: {response.text[:200]}"
                )
            problem = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers)
        if attempt == policy.max_attempts:
            raise RemoteAgentError(
                f"remote agent {name!r} at {url}: {problem} after {attempt} attempts"
            )
        time.sleep(policy.delay(attempt, retry_after))
    raise AssertionError("unreachable")
