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
    (an optional input that was not given is sent as ``null``) and the header
    ``Idempotency-Key: <run id>:<step key>:<epoch>`` (the step key is ``<node>#<visit>``,
    the epoch the calling worker's claim on the run). Every try of one step carries the
    same key: an agent that keeps the answer of a key for a while (a day is plenty) and
    answers a repeat with it instead of working again never does the work twice. A new
    claim of the run (its worker died, `resume --take-over`) sends a new epoch.
    Answers 200 with ``{"outputs": <any JSON>}`` (a body without ``outputs`` is taken
    whole). 408/409/429/5xx, timeouts and network errors are retried with backoff (at most
    three tries, within the node's ``timeout`` each), always with that key; any other
    status fails the step with the agent's message.

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


# Bounds on fetching a schema at registration: the URL comes from whoever registers, so
# the server never follows it far, long or into a large body.
SCHEMA_MAX_BYTES = 256 * 1024
SCHEMA_FETCH_SECONDS = 5.0
MAX_REDIRECTS = 3


def check_agent_url(url: str) -> None:
    """An agent URL must be http:// or https:// with a host; raises RemoteAgentError."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        raise RemoteAgentError(f"'{url}' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteAgentError(
            f"'{url}' is not an http:// or https:// URL: agents are reached over HTTP only"
        )


def _same_host(first: str, second: str) -> bool:
    from urllib.parse import urlsplit

    a, b = urlsplit(first), urlsplit(second)
    default = {"http": 80, "https": 443}
    return (a.hostname, a.port or default.get(a.scheme)) == (
        b.hostname,
        b.port or default.get(b.scheme),
    )


def fetch_input_schema(
    url: str,
    *,
    timeout: float = SCHEMA_FETCH_SECONDS,
    max_bytes: int = SCHEMA_MAX_BYTES,
) -> dict[str, Any]:
    """GET the agent's input schema and check it is an object JSON Schema.

    Only http(s); redirects are followed (at most MAX_REDIRECTS) on the agent's own host
    and port only; the whole fetch, redirects and body included, takes at most ``timeout``
    seconds and the body at most ``max_bytes``. Raises RemoteAgentError saying what is
    wrong (not http, redirected elsewhere, too large, too slow, unreachable, not JSON, not
    a schema).
    """
    import json

    import httpx
    from jsonschema import Draft202012Validator, SchemaError

    check_agent_url(url)
    where = schema_url(url)
    deadline = time.monotonic() + timeout
    too_slow = f"{where} did not answer within {timeout:g} s"
    body = bytearray()
    with httpx.Client(follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteAgentError(too_slow)
            try:
                # Uncompressed only: the size bound is on what is read, not what it inflates to.
                with client.stream(
                    "GET", where, timeout=remaining, headers={"Accept-Encoding": "identity"}
                ) as response:
                    if response.is_redirect:
                        target = str(response.url.join(response.headers.get("location", "")))
                        check_agent_url(target)
                        if not _same_host(where, target):
                            raise RemoteAgentError(
                                f"{where} redirects to {target}, another host: registration "
                                "follows redirects only on the agent's own host and port"
                            )
                        where = target
                        continue
                    if not response.is_success:
                        raise RemoteAgentError(
                            f"{where} answered HTTP {response.status_code}, not a schema"
                        )
                    encoding = response.headers.get("content-encoding", "identity").lower()
                    if encoding not in ("", "identity"):
                        raise RemoteAgentError(
                            f"{where} answered {encoding}-compressed content: send the schema "
                            "uncompressed"
                        )
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise RemoteAgentError(_too_large(where, max_bytes))
                    for chunk in response.iter_raw():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            raise RemoteAgentError(_too_large(where, max_bytes))
                        if time.monotonic() > deadline:
                            raise RemoteAgentError(too_slow)
                    break
            except httpx.TimeoutException:
                raise RemoteAgentError(too_slow) from None
            except httpx.HTTPError as error:
                raise RemoteAgentError(
                    f"cannot fetch the input schema from {where}: {type(error).__name__}"
                ) from None
        else:
            raise RemoteAgentError(f"{schema_url(url)} redirects more than {MAX_REDIRECTS} times")
    try:
        schema = json.loads(bytes(body))
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


def _too_large(where: str, max_bytes: int) -> str:
    return f"{where} answered more than {max_bytes // 1024} KiB: too large for an input schema"


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


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(run_id: str, step_key: str, epoch: int | None) -> str:
    """The key every try of one step's call carries: run, step key and claim epoch."""
    return f"{run_id}:{step_key}:{epoch if epoch is not None else 0}"


def call_remote_agent(
    ctx: RunContext, name: str, inputs: dict[str, Any], *, timeout: float, step_key: str
) -> tuple[Any, int]:
    """POST {"inputs": ...} to the agent with the step's idempotency key; returns (its
    "outputs", or the whole JSON answer; attempts).

    Retried (timeouts, 5xx ...) only because the key lets the agent answer a repeat
    without doing the work again."""
    import httpx

    _, url = find_agent(ctx, name)
    headers = {IDEMPOTENCY_HEADER: idempotency_key(ctx.run_id, step_key, ctx.epoch)}
    policy = RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        retry_after = None
        try:
            response = httpx.post(
                url,
                json={"inputs": inputs, "run_id": ctx.run_id},
                headers=headers,
                timeout=timeout,
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
