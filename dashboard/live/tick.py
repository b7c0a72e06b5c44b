"""The status tick: one snapshot of the set every STATUS_TICK_SECONDS, for every browser.

One ``StatusTick`` per dashboard process, started by the app's lifespan. Each tick reads
the database once (``gather_live``), adds the watches' latest readings, and hands the
snapshot to every subscriber whose stream is open, but only when something a page shows
changed. Subscribers get the latest snapshot at once on subscribing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.experiments.progress import progress as experiment_progress
from configurable_agents.settings import Settings
from configurable_agents.status.snapshot import gather_database
from configurable_agents.storage.database import redact_url
from configurable_agents.storage.repositories import runs, workflows
from configurable_agents.storage.states import RunState
from dashboard import queries
from dashboard.graph_svg import node_order
from dashboard.live.snapshot import LiveSnapshot, StepMark, progress_from_run
from dashboard.live.watches import ResourceWatch, ServiceWatch
from dashboard.workflow_lang import check, graph_of

log = logging.getLogger(__name__)
# Finished runs stay in the snapshot this long, so an open run page sees the final state.
RECENTLY_FINISHED = timedelta(minutes=2)
ACTIVE_LIMIT = 20
WATCH_LIMIT = 200
ACTIVE_STATES = (RunState.RUNNING, RunState.AWAITING_APPROVAL)


class Watchlist:
    """Run ids that open pages follow; the tick reads their progress too."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, run_id: str) -> None:
        """One more page follows this run."""
        with self._lock:
            self._counts[run_id] += 1

    def remove(self, run_id: str) -> None:
        """One page less follows this run."""
        with self._lock:
            self._counts[run_id] -= 1
            if self._counts[run_id] <= 0:
                del self._counts[run_id]

    def ids(self) -> list[str]:
        """The followed run ids (at most WATCH_LIMIT)."""
        with self._lock:
            return list(self._counts)[:WATCH_LIMIT]


class NodeOrderCache:
    """The drawing order of a workflow version's nodes; versions never change, so keep it."""

    def __init__(self, limit: int = 512) -> None:
        self._orders: dict[int, list[str]] = {}
        self._limit = limit

    def get(self, session: Session, version_ids: set[int]) -> dict[int, list[str]]:
        """The node order of each version, reading only the versions not seen yet."""
        missing = [vid for vid in version_ids if vid not in self._orders]
        for version_id, text in queries.version_texts(session, missing).items():
            if len(self._orders) >= self._limit:
                self._orders.clear()
            self._orders[version_id] = node_order(graph_of(check(text)))
        return {vid: self._orders.get(vid, []) for vid in version_ids}


def gather_live(
    settings: Settings,
    session_factory: sessionmaker[Session],
    watchlist: Watchlist,
    node_orders: NodeOrderCache,
    services: ServiceWatch,
    resources: ResourceWatch | None = None,
    experiments: Watchlist | None = None,
) -> LiveSnapshot:
    """One snapshot: the database status and the live facts, with the watches' latest
    (``experiments`` holds the ids of the experiments open pages follow)."""
    database, facts = gather_database(session_factory, redact_url(settings.effective_database_url))
    snapshot = LiveSnapshot(
        taken_at=datetime.now(UTC),
        database=database,
        services=list(services.latest),
        resources=resources.latest if resources else None,
        **facts,
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
            recent = queries.runs_finished_since(session, now - RECENTLY_FINISHED, ACTIVE_LIMIT)
            by_id = {run.id: run for run in [*active, *recent]}
            watched_ids = [rid for rid in watchlist.ids() if rid not in by_id]
            for run in queries.runs_by_ids(session, watched_ids):
                by_id[run.id] = run
            progress = {run_id: progress_from_run(run) for run_id, run in by_id.items()}
            for run_id, seq, node, state in queries.step_marks(session, list(progress)):
                progress[run_id].steps.append(StepMark(seq, node, state))
            versions = {
                run.workflow_version_id for run in by_id.values() if run.workflow_version_id
            }
            orders = node_orders.get(session, versions)
            for run_id, run in by_id.items():
                progress[run_id].nodes = list(orders.get(run.workflow_version_id or -1, []))
            active_ids = {run.id for run in active}
            snapshot.active = [progress[run.id] for run in active] + [
                progress[run.id] for run in recent if run.id not in active_ids
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
            snapshot.agents = queries.agent_lines(session, now)
            followed = [int(eid) for eid in experiments.ids()] if experiments else []
            experiment_ids = queries.live_experiment_ids(session, now - RECENTLY_FINISHED)
            wanted = sorted({*experiment_ids, *followed})
            if wanted:
                snapshot.experiments = experiment_progress(session, wanted)
                snapshot.experiment_names = queries.experiment_names(session, wanted)
    except Exception as error:  # report, never raise from the status loop
        orig = getattr(error, "orig", None) or error
        snapshot.database.error = (str(orig).strip().splitlines() or [type(error).__name__])[0]
    return snapshot


class StatusTick:
    """Takes a snapshot every ``seconds`` and fans it out to subscriber queues."""

    def __init__(self, produce: Callable[[], LiveSnapshot], seconds: float = 1.0) -> None:
        self._produce = produce
        self.seconds = seconds
        self.latest: LiveSnapshot | None = None
        self.reads = 0  # snapshots taken; the benchmark checks one per tick
        self._subscribers: set[asyncio.Queue[LiveSnapshot]] = set()
        self._fingerprint: tuple[object, ...] | None = None

    @property
    def subscriber_count(self) -> int:
        """How many streams are open."""
        return len(self._subscribers)

    def subscribe(self) -> asyncio.Queue[LiveSnapshot]:
        """A queue that receives each new snapshot (the latest one at once)."""
        queue: asyncio.Queue[LiveSnapshot] = asyncio.Queue(maxsize=1)
        if self.latest is not None:
            queue.put_nowait(self.latest)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveSnapshot]) -> None:
        """Stop sending to this queue (its stream closed)."""
        self._subscribers.discard(queue)

    async def refresh(self) -> LiveSnapshot:
        """Take one snapshot now and publish it if it changed."""
        snapshot = await asyncio.to_thread(self._produce)
        self.reads += 1
        self.latest = snapshot
        fingerprint = snapshot.fingerprint()
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self._publish(snapshot)
        return snapshot

    def _publish(self, snapshot: LiveSnapshot) -> None:
        for queue in self._subscribers:
            # A slow subscriber only needs the newest snapshot: drop the stale one.
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(snapshot)

    async def run(self) -> None:
        """Tick at a fixed rate (time spent reading included), so a change waits at most
        one tick before it is read."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            try:
                await self.refresh()
            except Exception:  # keep ticking; the next snapshot reports the problem
                log.exception("status snapshot failed")
            due += self.seconds
            now = loop.time()
            due = max(due, now)  # behind schedule: carry on from now, no burst of catch-ups
            await asyncio.sleep(due - now)
