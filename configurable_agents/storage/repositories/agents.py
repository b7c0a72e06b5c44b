"""Agents: this set's workers and registered remote agents, alive by heartbeat."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import AgentNotFoundError
from configurable_agents.storage.models import Agent, utcnow

Liveness = Literal["alive", "stale", "dead"]
# An agent is dead after this many TTLs without a heartbeat.
DEAD_AFTER_TTLS = 3
REMOTE = "remote"
WORKER = "worker"


class AgentStatus(NamedTuple):
    """An agent with its liveness at the time of listing."""

    agent: Agent
    liveness: Liveness


def register(
    session: Session,
    *,
    name: str,
    kind: str = "worker",
    host: str = "",
    pid: int | None = None,
    version: str = "",
    url: str | None = None,
    concurrency: int = 1,
    ttl_seconds: float = 15.0,
    agent_id: str | None = None,
) -> Agent:
    """Register (or re-register) an agent and mark it alive now."""
    agent = session.get(Agent, agent_id) if agent_id else None
    if agent is None:
        agent = Agent(name=name, kind=kind)
        if agent_id:
            agent.id = agent_id
        session.add(agent)
    now = utcnow()
    agent.host, agent.pid, agent.version, agent.url = host, pid, version, url
    agent.concurrency, agent.ttl_seconds = concurrency, ttl_seconds
    agent.registered_at = agent.last_heartbeat = now
    agent.deregistered_at = None
    agent.runs_in_progress = 0
    session.flush()
    return agent


def heartbeat(
    session: Session, agent_id: str, *, runs_in_progress: int | None = None
) -> Agent | None:
    """Record a heartbeat; returns None for an unknown agent."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return None
    agent.last_heartbeat = utcnow()
    agent.deregistered_at = None
    if runs_in_progress is not None:
        agent.runs_in_progress = runs_in_progress
    session.flush()
    return agent


def deregister(session: Session, agent_id: str) -> None:
    """Mark an agent as gone on a clean shutdown."""
    agent = session.get(Agent, agent_id)
    if agent is not None:
        agent.deregistered_at = utcnow()
        agent.runs_in_progress = 0
        session.flush()


def liveness(agent: Agent, now: datetime | None = None) -> Liveness:
    """alive within one TTL of its last heartbeat, stale up to three, dead after (or deregistered)."""
    if agent.deregistered_at is not None:
        return "dead"
    age = ((now or utcnow()) - agent.last_heartbeat).total_seconds()
    if age <= agent.ttl_seconds:
        return "alive"
    if age <= agent.ttl_seconds * DEAD_AFTER_TTLS:
        return "stale"
    return "dead"


def list_agents(session: Session, *, kind: str | None = None, limit: int = 500) -> Sequence[Agent]:
    """Agents, most recent heartbeat first."""
    query = select(Agent).order_by(Agent.last_heartbeat.desc()).limit(limit)
    if kind:
        query = query.where(Agent.kind == kind)
    return session.scalars(query).all()


def count_alive(session: Session, *, kind: str = "worker", max_ttl: float = 3600.0) -> int:
    """Agents of a kind whose last heartbeat is within their TTL."""
    since = utcnow() - timedelta(seconds=max_ttl)
    candidates = session.scalars(
        select(Agent).where(
            Agent.kind == kind, Agent.deregistered_at.is_(None), Agent.last_heartbeat >= since
        )
    ).all()
    now = utcnow()
    return sum(1 for agent in candidates if liveness(agent, now) == "alive")


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Agent)) or 0


# --- remote agents, lookups ----------------------------------------------------------------


def register_remote(
    session: Session,
    *,
    name: str,
    url: str,
    input_schema: dict[str, Any] | None = None,
    concurrency: int = 1,
    ttl_seconds: float = 60.0,
    version: str = "",
) -> tuple[Agent, str]:
    """Register a remote agent; returns it with its new token, which is shown only this once.

    Only a hash of the token is stored.
    """
    token = secrets.token_urlsafe(32)
    agent = Agent(
        kind=REMOTE,
        name=name,
        url=url,
        input_schema=input_schema,
        concurrency=concurrency,
        ttl_seconds=ttl_seconds,
        version=version,
        token_hash=hash_token(token),
    )
    session.add(agent)
    session.flush()
    return agent, token


def hash_token(token: str) -> str:
    """SHA-256 of a token; enough for 256-bit random tokens, which cannot be guessed."""
    return hashlib.sha256(token.encode()).hexdigest()


def verify_token(session: Session, agent_id: str, token: str) -> Agent | None:
    """The registered remote agent when the token is its own, else None (unknown or wrong alike)."""
    agent = session.get(Agent, agent_id)
    expected = agent.token_hash if agent is not None and agent.token_hash else ""
    # Compare even when there is nothing to match, so timing does not tell ids apart.
    matches = hmac.compare_digest(hash_token(token), expected)
    if agent is None or not matches or agent.deregistered_at is not None:
        return None
    return agent


def get(session: Session, agent_id: str) -> Agent | None:
    """An agent by id."""
    return session.get(Agent, agent_id)


def require(session: Session, agent_id: str) -> Agent:
    """An agent by id, or AgentNotFoundError."""
    agent = get(session, agent_id)
    if agent is None:
        raise AgentNotFoundError(f"no agent with id {agent_id}")
    return agent


def list_with_liveness(
    session: Session,
    *,
    kind: str | None = None,
    include_dead: bool = True,
    now: datetime | None = None,
    limit: int = 500,
) -> list[AgentStatus]:
    """Agents with their liveness, most recent heartbeat first."""
    now = now or utcnow()
    statuses = [
        AgentStatus(agent, liveness(agent, now))
        for agent in list_agents(session, kind=kind, limit=limit)
    ]
    return [status for status in statuses if include_dead or status.liveness != "dead"]
