"""The reconciler: the database is the source of truth, the queue only wakes workers.

Every worker runs :func:`reconcile` every few seconds. One indexed query finds queued runs
whose last hand-off to the queue (``runs.enqueued_at``) is older than
RECONCILE_AFTER_SECONDS; usually there are none and that is all it costs. For those it
finds, it reads which runs the queue still holds (its pending and scheduled messages): a
run still there merely waits behind others; a run missing from it in two passes running
(a worker may have just taken the message and not yet claimed the run) lost its message
(Redis flushed, SQLite queue rows deleted, the enqueue failed after the run was stored,
the process died between the two). Each lost run is handed over again by exactly one
worker (a conditional UPDATE of ``enqueued_at`` decides which) and its timeline says when
and why.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.queue.dispatch import enqueue
from configurable_agents.queue.errors import QueueUnavailableError
from configurable_agents.queue.huey_app import RESUME_PRIORITY, get_queue
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Run, RunState, utcnow
from configurable_agents.storage.repositories import run_events

log = logging.getLogger(__name__)
EXECUTE_RUN = "execute_run"


@dataclass
class Reconciled:
    """What one pass did: runs handed to the queue again, runs found waiting in it."""

    enqueued: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def interval(settings: Settings) -> float:
    """Seconds between two passes: a fraction of the bound, at most 5 s."""
    return max(min(settings.reconcile_after_seconds / 3, 5.0), 0.2)


def grace(settings: Settings) -> float:
    """Seconds a stale run must stay missing from the queue before it counts as lost."""
    return min(settings.reconcile_after_seconds, 2.0)


def unclaimed_runs(session: Session, cutoff: datetime, limit: int) -> list[tuple[str, datetime]]:
    """(id, last hand-off) of queued runs handed to the queue before ``cutoff``, oldest
    first (the ix_runs_state_enqueued_at index answers it)."""
    rows = session.execute(
        select(Run.id, Run.enqueued_at, Run.created_at)
        .where(
            Run.state == RunState.QUEUED,
            Run.enqueued_at.is_(None) | (Run.enqueued_at < cutoff),
        )
        .order_by(Run.enqueued_at)
        .limit(limit)
    ).all()
    return [(run_id, enqueued_at or created_at) for run_id, enqueued_at, created_at in rows]


def runs_in_queue(settings: Settings) -> set[str]:
    """Ids of the runs the queue holds a message for (pending or scheduled for later);
    QueueUnavailableError when the queue cannot be read."""
    try:
        huey = get_queue(settings).huey
        tasks = [*huey.pending(), *huey.scheduled()]
    except Exception as error:  # redis.ConnectionError, sqlite3.OperationalError ...
        raise QueueUnavailableError(
            f"cannot read the queue ({type(error).__name__}: {error})"
        ) from None
    return {str(task.args[0]) for task in tasks if task.name == EXECUTE_RUN and task.args}


class Reconciler:
    """The reconciler of one process: remembers which stale runs the queue did not hold
    at its last pass (suspects), and hands over those still missing at the next."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.suspects: dict[str, float] = {}

    def run_pass(self) -> Reconciled:
        """One pass (the worker's reconciler thread calls it every :func:`interval`)."""
        return reconcile(self.settings, self.session_factory, suspects=self.suspects)


def reconcile(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    suspects: dict[str, float] | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> Reconciled:
    """Hand every queued run whose queue message is lost to the queue again (one pass).

    With ``suspects`` (run id -> when first found missing, kept between passes, updated in
    place) a run is taken for lost only once it has been missing from the queue for
    :func:`grace` seconds (a worker may have taken its message and not claimed it yet);
    without, at once.
    Safe in every worker at once: each run is woken by the one caller whose conditional
    UPDATE matched. A run the queue still holds only has its hand-off time moved on, so
    the queue is read again for it one bound later, not on every pass.
    """
    now = now or utcnow()
    bound = settings.reconcile_after_seconds
    cutoff = now - timedelta(seconds=bound)
    done = Reconciled()
    with session_factory() as session:
        candidates = unclaimed_runs(session, cutoff, limit)
    if not candidates:
        if suspects is not None:
            suspects.clear()
        return done
    try:
        held = runs_in_queue(settings)
    except QueueUnavailableError as error:
        log.warning("reconciler: %s; %d queued run(s) wait for it", error, len(candidates))
        return done
    # One transaction for the pass: the workers' claims wait for it once, not per run.
    lost: list[str] = []
    missing = {run_id for run_id, _ in candidates if run_id not in held}
    if suspects is not None:
        # Missing only since a moment: maybe taken from the queue and not claimed yet.
        clock = time.monotonic()
        for run_id in set(suspects) - missing:
            del suspects[run_id]
        for run_id in missing:
            suspects.setdefault(run_id, clock)
        missing = {r for r in missing if clock - suspects[r] >= grace(settings)}
        for run_id in missing:
            del suspects[run_id]
    with session_scope(session_factory) as session:
        for run_id, handed_at in candidates:
            if run_id not in held and run_id not in missing:
                continue  # a suspect: decided at the next pass
            # The time of this wake, not of the pass: another worker's pass that read the
            # queue before this run was enqueued again must not find it stale.
            if not run_lifecycle.wake(session, run_id, unclaimed_since=cutoff, now=utcnow()):
                continue  # claimed, cancelled or woken by another worker meanwhile
            if run_id not in missing:
                done.waiting.append(run_id)
                continue
            lost.append(run_id)
            run_events.add(
                session,
                run_id,
                run_events.RECONCILED,
                f"enqueued again: still queued {(now - handed_at).total_seconds():.0f} s "
                f"after it was handed to the queue (RECONCILE_AFTER_SECONDS={bound:g}) "
                "and the queue held no message for it (lost: queue flushed, or "
                "unreachable when it was enqueued)",
            )
    for run_id in lost:
        try:
            enqueue(settings, run_id, priority=RESUME_PRIORITY)
        except QueueUnavailableError as error:
            # Its hand-off time moved on: the next pass one bound later tries again.
            done.failed.append(run_id)
            log.warning("reconciler: run %s not enqueued again: %s", run_id, error)
            continue
        done.enqueued.append(run_id)
    if done.enqueued:
        log.warning(
            "reconciler: %d queued run(s) had lost their queue message; enqueued again: %s",
            len(done.enqueued),
            ", ".join(done.enqueued[:10]) + (" ..." if len(done.enqueued) > 10 else ""),
        )
    return done
