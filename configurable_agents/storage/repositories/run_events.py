"""A run's timeline: when it was enqueued again and why, claimed, taken over, fenced off.

Rows are written in the same transaction as the change they describe, so the timeline
never says something happened that did not.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from configurable_agents.storage.models import RunEvent

# The kinds of entry (free text beside them says who and why).
CLAIMED = "claimed"
TAKEN_OVER = "taken_over"
REQUEUED = "requeued"
RECONCILED = "reconciled"
ENQUEUE_FAILED = "enqueue_failed"
STALE_CLAIM = "stale_claim"


def add(
    session: Session, run_id: str, kind: str, detail: str = "", *, epoch: int | None = None
) -> RunEvent:
    """Append an entry to the run's timeline (in the caller's transaction)."""
    event = RunEvent(run_id=run_id, kind=kind, detail=detail, epoch=epoch)
    session.add(event)
    session.flush()
    return event


def list_for_run(session: Session, run_id: str, *, limit: int = 200) -> Sequence[RunEvent]:
    """The run's timeline, oldest first."""
    return session.scalars(
        select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id).limit(limit)
    ).all()
