"""Orchestrator: queue depth and age of the oldest queued run, runs per worker, limits,
system resources, and a run form for each alive remote agent (from its input schema)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from configurable_agents.queue.errors import REFUSALS
from configurable_agents.queue.remote import form_fields
from configurable_agents.settings import Settings
from configurable_agents.status.resources import Resources
from configurable_agents.storage.repositories import runs
from configurable_agents.storage.states import RunState
from dashboard import queries
from dashboard.deps import DB, settings_of, tick_of
from dashboard.live.snapshot import AgentLine, LiveSnapshot
from dashboard.render import page
from dashboard.workflow_lang import as_input_fields

router = APIRouter()
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
        """How long the oldest queued run has waited; None when nothing waits."""
        if self.oldest_queued_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.oldest_queued_at).total_seconds())

    @property
    def workers_alive(self) -> list[AgentLine]:
        """The workers heartbeating within their TTL."""
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


def facts_from_session(session: Session, settings: Settings) -> OrchestratorFacts:
    """The facts read now from the database (a page load)."""
    by_state = runs.count_by_state(session)
    return OrchestratorFacts(
        queue_depth=by_state.get(RunState.QUEUED, 0),
        oldest_queued_at=queries.oldest_queued(session),
        runs_by_state=by_state,
        per_worker=queries.running_per_worker(session),
        agents=queries.agent_lines(session),
        limits=limits(settings),
    )


def facts_from_snapshot(snapshot: LiveSnapshot, settings: Settings) -> OrchestratorFacts:
    """The same facts from the tick's snapshot (the live topic)."""
    return OrchestratorFacts(
        queue_depth=snapshot.queue_depth,
        oldest_queued_at=snapshot.oldest_queued_at,
        runs_by_state=snapshot.runs_by_state,
        per_worker=snapshot.running_per_worker,
        agents=snapshot.agents,
        limits=limits(settings),
    )


def remote_forms(session: Session, agents: list[AgentLine]) -> list[dict[str, Any]]:
    """A run form for each alive remote agent, from its published input schema."""
    forms = []
    for agent in agents:
        if agent.kind != "remote" or agent.liveness != "alive":
            continue
        try:
            fields = as_input_fields(form_fields(session, agent.name))
        except (*REFUSALS, ValueError) as error:
            # Died between the two reads, or its schema gives no valid form: say so.
            forms.append({"agent": agent, "fields": [], "problem": str(error)})
            continue
        forms.append({"agent": agent, "fields": fields})
    return forms


def orchestrator_context(
    session: Session,
    settings: Settings,
    resources: Resources | None,
    *,
    failed_agent: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the Orchestrator page shows (a failed dispatch adds its values and errors)."""
    facts = facts_from_session(session, settings)
    return {
        "facts": facts,
        "remote": remote_forms(session, facts.agents),
        "resources": resources,
        "failed_agent": failed_agent,
        "agent_values": values or {},
        "agent_errors": errors or {},
    }


def latest_resources(request: Request) -> Resources | None:
    """The resources of the tick's latest snapshot (None before the first reading)."""
    snapshot = tick_of(request).latest
    return snapshot.resources if snapshot is not None else None


@router.get("/orchestrator", response_class=HTMLResponse, include_in_schema=False)
def orchestrator_page(request: Request, session: DB) -> HTMLResponse:
    context = orchestrator_context(session, settings_of(request), latest_resources(request))
    return page(request, "orchestrator.html", context)


@router.get("/api/v1/orchestrator", tags=["agents"])
def api_orchestrator(request: Request, session: DB) -> dict[str, Any]:
    """The queue, runs per worker, capacity, limits, remote run forms and system resources."""
    context = orchestrator_context(session, settings_of(request), latest_resources(request))
    facts: OrchestratorFacts = context["facts"]
    resources: Resources | None = context["resources"]
    return {
        "queue_depth": facts.queue_depth,
        "oldest_queued_at": facts.oldest_queued_at,
        "runs_by_state": facts.runs_by_state,
        "per_worker": facts.per_worker,
        "workers_alive": [agent.name for agent in facts.workers_alive],
        "capacity": facts.capacity,
        "limits": dict(facts.limits),
        "remote_agents": [
            {
                "name": form["agent"].name,
                "inputs": [f.name for f in form["fields"]],
                "problem": form.get("problem"),
            }
            for form in context["remote"]
        ],
        "resources": resources.as_dict() if resources else None,
    }
