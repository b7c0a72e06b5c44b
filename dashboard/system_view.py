"""What the Agents and Orchestrator pages show, from a fresh read or from the live snapshot."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from configurable_agents.settings import Settings
from dashboard.live import AgentLine

# Settings that bound how much runs at once (the lead's queue adds more; they show up here).
_LIMIT_NAME = re.compile(r"(^|_)(concurrency|max|limit|lease|attempts|depth)(_|$)|heartbeat_ttl")


@dataclass
class OrchestratorFacts:
    """Queue depth and age, who runs what, and the limits in force."""

    queue_depth: int
    oldest_queued_at: datetime | None
    runs_by_state: dict[str, int]
    per_worker: dict[str, int]
    agents: list[AgentLine]
    limits: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def oldest_age_seconds(self) -> float | None:
        if self.oldest_queued_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.oldest_queued_at).total_seconds())

    @property
    def workers_alive(self) -> list[AgentLine]:
        return [a for a in self.agents if a.kind == "worker" and a.liveness == "alive"]

    @property
    def capacity(self) -> int:
        """Runs the alive workers can execute at once."""
        return sum(agent.concurrency for agent in self.workers_alive)


def limits(settings: Settings) -> list[tuple[str, Any]]:
    """(ENV_NAME, value) of every setting that limits concurrency, leases or the queue."""
    return [
        (name.upper(), getattr(settings, name))
        for name in type(settings).model_fields
        if _LIMIT_NAME.search(name)
    ]


def agent_lines(session: Session, now: datetime | None = None) -> list[AgentLine]:
    """Every agent with its liveness now, most recent heartbeat first."""
    from configurable_agents.storage.repositories import agents

    return [
        AgentLine(
            id=status.agent.id,
            name=status.agent.name,
            kind=status.agent.kind,
            host=status.agent.host,
            liveness=status.liveness,
            runs_in_progress=status.agent.runs_in_progress,
            concurrency=status.agent.concurrency,
            last_heartbeat=status.agent.last_heartbeat,
            version=status.agent.version,
        )
        for status in agents.list_with_liveness(session, now=now, limit=200)
    ]


def facts_from_session(session: Session, settings: Settings) -> OrchestratorFacts:
    from configurable_agents.storage.models import RunState
    from configurable_agents.storage.repositories import runs
    from dashboard import queries

    by_state = runs.count_by_state(session)
    return OrchestratorFacts(
        queue_depth=by_state.get(RunState.QUEUED, 0),
        oldest_queued_at=queries.oldest_queued(session),
        runs_by_state=by_state,
        per_worker=queries.running_per_worker(session),
        agents=agent_lines(session),
        limits=limits(settings),
    )


def facts_from_snapshot(snapshot: Any, settings: Settings) -> OrchestratorFacts:
    return OrchestratorFacts(
        queue_depth=snapshot.queue_depth,
        oldest_queued_at=getattr(snapshot, "oldest_queued_at", None),
        runs_by_state=snapshot.runs_by_state,
        per_worker=getattr(snapshot, "running_per_worker", {}),
        agents=getattr(snapshot, "agents", []),
        limits=limits(settings),
    )
