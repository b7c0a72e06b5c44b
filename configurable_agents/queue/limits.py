"""The queue depth limit: starting a run when too many wait answers 429 instead.

The concurrency limits (overall and per workflow) are applied when a worker claims a
run, in :mod:`configurable_agents.queue.leases`; a run over them waits in the queue.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from configurable_agents.queue.errors import QueueFullError
from configurable_agents.settings import Settings
from configurable_agents.storage.models import Run, RunState


def queue_depth(session: Session) -> int:
    """Runs waiting in state queued."""
    query = select(func.count()).select_from(Run).where(Run.state == RunState.QUEUED)
    return session.scalar(query) or 0


def check_queue_depth(session: Session, settings: Settings, *, adding: int = 1) -> None:
    """Raise QueueFullError when ``adding`` more runs would pass QUEUE_MAX_DEPTH."""
    depth = queue_depth(session)
    if depth + adding > settings.queue_max_depth:
        raise QueueFullError(
            f"the queue is full: {depth} runs are waiting (QUEUE_MAX_DEPTH="
            f"{settings.queue_max_depth}); try again when some have started, or raise "
            "QUEUE_MAX_DEPTH"
        )
