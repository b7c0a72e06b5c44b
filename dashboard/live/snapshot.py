"""What one tick produces: the shared status snapshot plus the dashboard's live facts.

Plain types only (no reads here): the tick fills them, topics and pages render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from configurable_agents.status.resources import Resources
from configurable_agents.status.snapshot import StatusSnapshot
from configurable_agents.storage.repositories import steps as step_states
from configurable_agents.storage.states import RunState

# What a node of a run's graph shows, beyond the step states it takes from its steps.
PENDING, RUNNING_NODE, WAITING = "pending", "running", "waiting"


@dataclass(frozen=True)
class StepMark:
    """One recorded step, as much as a progress bar needs."""

    seq: int
    node: str
    state: str


@dataclass
class RunProgress:
    """A run in flight (or just finished) with its steps so far and its nodes."""

    id: str
    workflow_name: str
    workflow_id: int | None
    state: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total_tokens: int
    total_cost: float
    error_message: str | None
    cancel_requested: bool
    worker_id: str | None
    steps: list[StepMark] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)  # the workflow's nodes in drawing order

    @property
    def node_states(self) -> dict[str, str]:
        """completed / failed / running / waiting / pending for each node of the workflow."""
        states: dict[str, str] = {}
        for step in self.steps:
            # The latest step of a node tells its state (a loop runs a node again).
            states[step.node] = (
                WAITING if step.state == step_states.AWAITING_APPROVAL else step.state
            )
        result = {node: states.get(node, PENDING) for node in self.nodes}
        for node, value in states.items():
            result.setdefault(node, value)
        # The first node not reached yet is the one the run is on.
        current = {RunState.RUNNING: RUNNING_NODE, RunState.AWAITING_APPROVAL: WAITING}
        if self.state in current:
            for node in self.nodes:
                if result[node] == PENDING:
                    result[node] = current[self.state]
                    break
        return result

    @property
    def percent(self) -> int:
        """How far the run is, by nodes done; 100 only once it completed."""
        if self.state == RunState.COMPLETED:
            return 100
        if not self.nodes:
            return 0
        done = sum(
            1
            for state in self.node_states.values()
            if state in (step_states.COMPLETED, step_states.SKIPPED)
        )
        return min(99, round(100 * done / len(self.nodes)))

    def fingerprint(self) -> tuple[Any, ...]:
        """What must change for a page showing this run to be sent it again."""
        last = self.steps[-1].seq if self.steps else 0
        return (
            self.state,
            len(self.steps),
            last,
            self.total_tokens,
            self.cancel_requested,
            len(self.nodes),
        )


def progress_from_run(run: Any) -> RunProgress:
    """A run's progress without its steps and nodes (filled in by the caller)."""
    return RunProgress(
        id=run.id,
        workflow_name=run.workflow_name,
        workflow_id=run.workflow_id,
        state=run.state,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        total_tokens=run.total_tokens,
        total_cost=run.total_cost,
        error_message=run.error_message,
        cancel_requested=run.cancel_requested,
        worker_id=run.worker_id,
    )


@dataclass(frozen=True)
class AgentLine:
    """An agent as the live pages list it."""

    id: str
    name: str
    kind: str
    host: str
    liveness: str
    runs_in_progress: int
    concurrency: int
    last_heartbeat: datetime
    version: str


@dataclass
class LiveSnapshot(StatusSnapshot):
    """The status snapshot plus the dashboard's live facts, taken in one pass."""

    runs_24h: dict[str, int] = field(default_factory=dict)
    cost_today: float = 0.0
    workflow_count: int = 0
    active: list[RunProgress] = field(default_factory=list)
    watched: dict[str, RunProgress] = field(default_factory=dict)
    recent_errors: list[dict[str, Any]] = field(default_factory=list)
    oldest_queued_at: datetime | None = None
    running_per_worker: dict[str, int] = field(default_factory=dict)
    agents: list[AgentLine] = field(default_factory=list)
    resources: Resources | None = None
    # Experiments running (or just finished, or followed by an open page): id -> progress
    # (configurable_agents.experiments.progress.ExperimentProgress).
    experiments: dict[int, Any] = field(default_factory=dict)
    experiment_names: dict[int, str] = field(default_factory=dict)

    def run(self, run_id: str) -> RunProgress | None:
        """The progress of a run this snapshot holds (active or watched), else None."""
        return self.watched.get(run_id) or next((r for r in self.active if r.id == run_id), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: the base status plus the live facts."""
        data = super().as_dict()
        data.update(
            {
                "runs_24h": self.runs_24h,
                "cost_today": self.cost_today,
                "workflow_count": self.workflow_count,
                "active_runs": [
                    {
                        "id": run.id,
                        "workflow_name": run.workflow_name,
                        "state": run.state,
                        "percent": run.percent,
                        "steps": len(run.steps),
                    }
                    for run in self.active
                ],
                "oldest_queued_at": self.oldest_queued_at.isoformat()
                if self.oldest_queued_at
                else None,
                "agents": [
                    {"id": a.id, "name": a.name, "kind": a.kind, "liveness": a.liveness}
                    for a in self.agents
                ],
                "resources": self.resources.as_dict() if self.resources else None,
            }
        )
        return data

    def fingerprint(self) -> tuple[Any, ...]:
        """The base status plus every live fact a page shows (not ages or heartbeats)."""
        return (
            *super().fingerprint(),
            tuple(sorted(self.runs_24h.items())),
            round(self.cost_today, 6),
            self.workflow_count,
            tuple((run.id, run.fingerprint()) for run in self.active),
            tuple((run_id, run.fingerprint()) for run_id, run in sorted(self.watched.items())),
            tuple(error["id"] for error in self.recent_errors),
            self.oldest_queued_at,
            tuple(sorted(self.running_per_worker.items())),
            tuple((a.id, a.liveness, a.runs_in_progress) for a in self.agents),
            self.resources.fingerprint() if self.resources else None,
            tuple(
                (eid, p.status, p.done, p.failed, p.total)
                for eid, p in sorted(self.experiments.items())
            ),
        )
