"""Leases on running runs: claiming a queued run within the limits, renewing, reaping.

A worker claims a run with one conditional UPDATE (queued -> running, with a lease that
expires ``RUN_LEASE_SECONDS`` from now) and renews the lease of every run it executes
from a background thread. When a worker dies (kill -9, machine gone) its leases run out;
the reaper in every worker then queues those runs again (they resume from their last
checkpoint) or, after ``RUN_MAX_ATTEMPTS`` executions, fails them with the reason.

Every change here is a conditional UPDATE of storage.run_lifecycle on the state the
decision was made from, so several workers may claim, renew and reap at the same moment:
each run changes hands once. This module holds the policy (limits, when a worker is gone).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import Agent, Run, RunState, utcnow
from configurable_agents.storage.repositories import agents

log = logging.getLogger(__name__)

# Serialises claims under a concurrency limit on PostgreSQL (SQLite's BEGIN IMMEDIATE
# already serialises writers); any constant unique to this purpose will do.
_LIMIT_LOCK_KEY = 0x43414C4D  # "CALM"
WORKER_LOST = "WorkerLost"


class Claim(enum.Enum):
    """What a worker got when it tried to take a queued run."""

    CLAIMED = "claimed"
    # Cancelled, finished or taken by another worker: nothing to do.
    NOT_QUEUED = "not queued"
    # A concurrency limit is reached: try again a little later.
    LIMITED = "limited"


@dataclass(frozen=True)
class Limits:
    """MAX_CONCURRENT_RUNS and MAX_RUNS_PER_WORKFLOW (0 = no limit)."""

    overall: int = 0
    per_workflow: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_concurrent_runs, settings.max_runs_per_workflow)

    @property
    def active(self) -> bool:
        return bool(self.overall or self.per_workflow)


def claim(
    session: Session,
    run_id: str,
    *,
    worker_id: str,
    lease_seconds: float,
    limits: Limits = Limits(),
) -> tuple[Claim, str]:
    """Take a queued run under a lease if the limits allow; (outcome, reason when limited).

    The claim itself is storage.run_lifecycle.claim, as when the engine claims a run.
    """
    if limits.active:
        _lock_for_limits(session)
        reason = _limit_reached(session, run_id, limits)
        if reason:
            return Claim.LIMITED, reason
    claimed = run_lifecycle.claim(session, run_id, worker_id=worker_id, lease_seconds=lease_seconds)
    return (Claim.CLAIMED, "") if claimed is not None else (Claim.NOT_QUEUED, "")


def _lock_for_limits(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LIMIT_LOCK_KEY})


def _limit_reached(session: Session, run_id: str, limits: Limits) -> str:
    running = select(func.count()).select_from(Run).where(Run.state == RunState.RUNNING)
    if limits.overall:
        count = session.scalar(running) or 0
        if count >= limits.overall:
            return f"{count} runs are running (MAX_CONCURRENT_RUNS={limits.overall})"
    if limits.per_workflow:
        row = session.execute(
            select(Run.workflow_id, Run.workflow_name).where(Run.id == run_id)
        ).one_or_none()
        if row is not None:
            same = (
                Run.workflow_id == row.workflow_id
                if row.workflow_id is not None
                else Run.workflow_name == row.workflow_name
            )
            count = session.scalar(running.where(same)) or 0
            if count >= limits.per_workflow:
                return (
                    f"{count} runs of {row.workflow_name} are running "
                    f"(MAX_RUNS_PER_WORKFLOW={limits.per_workflow})"
                )
    return ""


def renew(
    session: Session, *, worker_id: str, run_ids: Collection[str], lease_seconds: float
) -> int:
    """Push the leases of the runs this worker is executing forward; how many were renewed."""
    return run_lifecycle.renew_leases(
        session, worker_id=worker_id, run_ids=run_ids, lease_seconds=lease_seconds
    )


def release(session: Session, *, worker_id: str, run_ids: Collection[str]) -> int:
    """Expire this worker's leases now (a clean shutdown): the reapers take the runs at once."""
    return run_lifecycle.release_leases(session, worker_id=worker_id, run_ids=run_ids)


@dataclass
class Reaped:
    """What one pass of the reaper did."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reap(
    session_factory: sessionmaker[Session],
    *,
    lease_seconds: float,
    max_attempts: int,
    now: datetime | None = None,
    limit: int = 100,
) -> Reaped:
    """Queue again (or fail) running runs whose lease expired and whose worker is gone.

    A worker is gone when it is not alive by its heartbeat, or when the lease has been
    expired for a whole further lease period (a live worker that lost track of a run).
    Safe to call from every worker at once. The caller enqueues ``requeued``.
    """
    now = now or utcnow()
    reaped = Reaped()
    with session_scope(session_factory) as session:
        expired = session.execute(
            select(Run.id, Run.worker_id, Run.attempts, Run.lease_expires_at)
            .where(Run.state == RunState.RUNNING, Run.lease_expires_at < now)
            .order_by(Run.lease_expires_at, Run.id)
            .limit(limit)
        ).all()
        for run_id, worker_id, attempts, expired_at in expired:
            worker = session.get(Agent, worker_id) if worker_id else None
            long_expired = expired_at < now - timedelta(seconds=lease_seconds)
            if worker is not None and agents.liveness(worker, now) == "alive" and not long_expired:
                continue
            who = f"worker {worker_id}" if worker_id else "its worker"
            if attempts >= max_attempts:
                message = (
                    f"{who} stopped renewing the run's lease (expired {expired_at:%H:%M:%S} UTC); "
                    f"gave up after {attempts} attempt(s) (RUN_MAX_ATTEMPTS={max_attempts})"
                )
                if run_lifecycle.fail_expired(
                    session,
                    run_id,
                    worker_id=worker_id,
                    now=now,
                    error_type=WORKER_LOST,
                    error_message=message,
                ):
                    reaped.failed.append(run_id)
                    log.warning("run %s failed: %s", run_id, message)
                continue
            if run_lifecycle.requeue_expired(session, run_id, worker_id=worker_id, now=now):
                reaped.requeued.append(run_id)
                log.warning(
                    "run %s queued again: %s stopped renewing its lease (attempt %d of %d)",
                    run_id,
                    who,
                    attempts,
                    max_attempts,
                )
    return reaped
