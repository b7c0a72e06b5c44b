"""What the live pages show, read once per tick for every connected browser.

The process's one StatusBroadcaster produces a :class:`LiveSnapshot`: the shared status
snapshot plus what the dashboard's live parts need (runs in flight and their steps, recent
errors, agents, queue facts). Pages subscribe to topics of the one SSE stream; each topic
is rendered once per new snapshot, and a browser is sent a topic only when it changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.status.broadcaster import StatusBroadcaster
from configurable_agents.status.probes import PROBE_TIMEOUT, ServiceHealth, probe_services
from configurable_agents.status.snapshot import StatusSnapshot, gather_database

log = logging.getLogger(__name__)
# Finished runs stay in the snapshot this long, so an open run page sees the final state.
RECENTLY_FINISHED = timedelta(minutes=2)
ACTIVE_LIMIT = 20
WATCH_LIMIT = 200
ACTIVE_STATES = ("running", "awaiting_approval")


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
        """completed / failed / running / pending for each node of the workflow."""
        states: dict[str, str] = {}
        for step in self.steps:
            # The latest step of a node tells its state (a loop runs a node again).
            states[step.node] = "waiting" if step.state == "awaiting_approval" else step.state
        result = {node: states.get(node, "pending") for node in self.nodes}
        for node, value in states.items():
            result.setdefault(node, value)
        if self.state == "running":
            for node in self.nodes:
                if result[node] == "pending":
                    result[node] = "running"
                    break
        if self.state == "awaiting_approval":
            for node in self.nodes:
                if result[node] == "pending":
                    result[node] = "waiting"
                    break
        return result

    @property
    def percent(self) -> int:
        if self.state == "completed":
            return 100
        if not self.nodes:
            return 0
        done = sum(1 for state in self.node_states.values() if state in ("completed", "skipped"))
        return min(99, round(100 * done / len(self.nodes)))

    def fingerprint(self) -> tuple[Any, ...]:
        last = self.steps[-1].seq if self.steps else 0
        return (
            self.state,
            len(self.steps),
            last,
            self.total_tokens,
            self.cancel_requested,
            len(self.nodes),
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

    def run(self, run_id: str) -> RunProgress | None:
        return self.watched.get(run_id) or next((r for r in self.active if r.id == run_id), None)

    def as_dict(self) -> dict[str, Any]:
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
        )


class Watchlist:
    """Run ids that open pages follow; the producer reads their progress too."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, run_id: str) -> None:
        with self._lock:
            self._counts[run_id] += 1

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._counts[run_id] -= 1
            if self._counts[run_id] <= 0:
                del self._counts[run_id]

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._counts)[:WATCH_LIMIT]


class NodeOrderCache:
    """The drawing order of a workflow version's nodes; versions never change, so keep it."""

    def __init__(self, limit: int = 512) -> None:
        self._orders: dict[int, list[str]] = {}
        self._limit = limit

    def get(self, session: Session, version_ids: set[int]) -> dict[int, list[str]]:
        from configurable_agents.storage.models import WorkflowVersion
        from dashboard.graph_svg import node_order
        from dashboard.workflow_lang import check, graph_of

        missing = [vid for vid in version_ids if vid not in self._orders]
        if missing:
            rows = session.execute(
                select(WorkflowVersion.id, WorkflowVersion.config_yaml).where(
                    WorkflowVersion.id.in_(missing)
                )
            )
            for version_id, text in rows:
                if len(self._orders) >= self._limit:
                    self._orders.clear()
                checked = check(text)
                self._orders[version_id] = node_order(graph_of(checked))
        return {vid: self._orders.get(vid, []) for vid in version_ids}


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


class ServiceWatch:
    """The health of chat and MLflow, probed on its own loop.

    A probe can take a while (a connection attempt, a slow answer); kept apart, it never
    holds up a snapshot, so a change in the database reaches the browsers within a tick.
    """

    def __init__(self, settings: Settings, interval: float) -> None:
        self._settings = settings
        self.interval = interval
        self.latest: list[ServiceHealth] = []

    def probe(self, timeout: float = PROBE_TIMEOUT) -> list[ServiceHealth]:
        # The dashboard knows it is up; probing itself would only add a request per probe.
        self.latest = probe_services(self._settings, skip=frozenset({"dashboard"}), timeout=timeout)
        return self.latest

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.probe)
            except Exception:  # keep probing; a failed round leaves the last answer
                log.exception("service probe failed")
            await asyncio.sleep(self.interval)


async def tick(broadcaster: StatusBroadcaster, seconds: float) -> None:
    """Take a snapshot every ``seconds`` at a fixed rate (time spent reading included), so
    a change waits at most one tick before it is read."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        try:
            await broadcaster.refresh()
        except Exception:  # keep ticking; the next snapshot reports the problem
            log.exception("status snapshot failed")
        due += seconds
        now = loop.time()
        due = max(due, now)  # behind schedule: carry on from now, no burst of catch-ups
        await asyncio.sleep(due - now)


def gather_live(
    settings: Settings,
    session_factory: sessionmaker[Session],
    watchlist: Watchlist,
    node_orders: NodeOrderCache,
    services: ServiceWatch,
) -> LiveSnapshot:
    """One snapshot: the database status and the live facts, with the latest probes."""
    from configurable_agents.storage.database import redact_url
    from configurable_agents.storage.models import Run, RunStep
    from configurable_agents.storage.repositories import runs, workflows
    from dashboard import queries
    from dashboard.system_view import agent_lines

    database, facts = gather_database(session_factory, redact_url(settings.effective_database_url))
    snapshot = LiveSnapshot(
        taken_at=datetime.now(UTC), database=database, services=list(services.latest), **facts
    )
    if not database.at_head:
        return snapshot
    now = datetime.now(UTC)
    try:
        with session_factory() as session:
            snapshot.runs_24h = runs.count_by_state(session, since=now - timedelta(hours=24))
            snapshot.cost_today = queries.cost_since(session, queries.start_of_today(now))
            snapshot.workflow_count = workflows.count(session)
            active = list(queries.runs_in_states(session, ACTIVE_STATES, ACTIVE_LIMIT))
            recent = session.scalars(
                select(Run)
                .where(Run.finished_at >= now - RECENTLY_FINISHED)
                .order_by(Run.finished_at.desc())
                .limit(ACTIVE_LIMIT)
            ).all()
            by_id = {run.id: run for run in [*active, *recent]}
            watched_ids = [rid for rid in watchlist.ids() if rid not in by_id]
            if watched_ids:
                for run in session.scalars(select(Run).where(Run.id.in_(watched_ids))):
                    by_id[run.id] = run
            progress = {run_id: progress_from_run(run) for run_id, run in by_id.items()}
            if progress:
                for run_id, seq, node, state in session.execute(
                    select(RunStep.run_id, RunStep.seq, RunStep.node, RunStep.state)
                    .where(RunStep.run_id.in_(list(progress)))
                    .order_by(RunStep.run_id, RunStep.seq)
                ):
                    progress[run_id].steps.append(StepMark(seq, node, state))
                versions = {
                    run.workflow_version_id for run in by_id.values() if run.workflow_version_id
                }
                orders = node_orders.get(session, versions)
                for run_id, run in by_id.items():
                    progress[run_id].nodes = list(orders.get(run.workflow_version_id or -1, []))
            snapshot.active = [progress[run.id] for run in active] + [
                progress[run.id] for run in recent if run.id not in {r.id for r in active}
            ]
            snapshot.watched = {rid: progress[rid] for rid in watchlist.ids() if rid in progress}
            snapshot.recent_errors = [
                {
                    "id": run.id,
                    "workflow_name": run.workflow_name,
                    "error_type": run.error_type,
                    "error_message": run.error_message,
                    "finished_at": run.finished_at,
                }
                for run in runs.recent_errors(session, limit=5)
            ]
            snapshot.oldest_queued_at = queries.oldest_queued(session)
            snapshot.running_per_worker = queries.running_per_worker(session)
            snapshot.agents = agent_lines(session, now)
    except Exception as error:  # report, never raise from the status loop
        orig = getattr(error, "orig", None) or error
        snapshot.database.error = (str(orig).strip().splitlines() or [type(error).__name__])[0]
    return snapshot
