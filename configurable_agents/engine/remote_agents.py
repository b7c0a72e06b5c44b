"""Calling a registered remote agent from an `agent` node: bounded, never waiting on the dead."""

from __future__ import annotations

import time
from typing import Any

from configurable_agents.engine.context import RunContext


class RemoteAgentError(Exception):
    """The remote agent is unknown, dead, or failed; the message says which and why."""


def find_agent(ctx: RunContext, name: str) -> tuple[str, str]:
    """(agent id, URL) of the live remote agent with this name; raises when none is alive."""
    from configurable_agents.storage.repositories import agents

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

    from configurable_agents.llm.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

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
