"""The tracking outbox: the MLflow record of each finished run, pending until a sender
delivers it.

A record is stored in the transaction that stores the run's end, so a run that ended has
its record whatever happens to the process afterwards. Senders (one per worker) claim a due
record with one conditional UPDATE before sending it, so several workers at once never send
the same record; a claim that outlives its sender (kill -9) expires and the record is due
again. The run's ``tracking_status`` and ``mlflow_run_id`` mirror the outcome for the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from configurable_agents.storage.models import Run, TrackingRecord, utcnow

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
STATES = (PENDING, SENT, FAILED)


def store_pending(session: Session, run_id: str, record: dict[str, Any]) -> TrackingRecord:
    """Keep a run's record for sending (replacing the record of an earlier end, if any)."""
    row = session.get(TrackingRecord, run_id)
    now = utcnow()
    if row is None:
        row = TrackingRecord(run_id=run_id)
        session.add(row)
    row.state, row.record, row.attempts = PENDING, record, 0
    row.next_attempt_at, row.created_at = now, now
    row.claimed_by = row.claimed_until = row.last_error = None
    row.mlflow_run_id, row.sent_at = None, None
    run = session.get(Run, run_id)
    if run is not None:
        run.tracking_status, run.mlflow_run_id = PENDING, None
    session.flush()
    return row


def due(session: Session, *, now: datetime | None = None, limit: int = 20) -> Sequence[str]:
    """Run ids of pending records whose next attempt is due and nobody holds, oldest first."""
    now = now or utcnow()
    query = (
        select(TrackingRecord.run_id)
        .where(
            TrackingRecord.state == PENDING,
            TrackingRecord.next_attempt_at <= now,
            or_(TrackingRecord.claimed_until.is_(None), TrackingRecord.claimed_until < now),
        )
        .order_by(TrackingRecord.next_attempt_at)
        .limit(limit)
    )
    return session.scalars(query).all()


def claim(
    session: Session, run_id: str, *, sender: str, seconds: float, now: datetime | None = None
) -> TrackingRecord | None:
    """Take a due record for ``seconds`` (None when another sender has it or it is not due)."""
    now = now or utcnow()
    taken = session.execute(
        update(TrackingRecord)
        .where(
            TrackingRecord.run_id == run_id,
            TrackingRecord.state == PENDING,
            TrackingRecord.next_attempt_at <= now,
            or_(TrackingRecord.claimed_until.is_(None), TrackingRecord.claimed_until < now),
        )
        .values(
            claimed_by=sender,
            claimed_until=now + timedelta(seconds=seconds),
            attempts=TrackingRecord.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    row = session.get(TrackingRecord, run_id, populate_existing=True)
    return row


def mark_sent(session: Session, run_id: str, *, sender: str, mlflow_run_id: str) -> bool:
    """Record the delivery (only by the sender holding the claim); whether it was recorded."""
    done = _settle(
        session,
        run_id,
        sender,
        state=SENT,
        mlflow_run_id=mlflow_run_id,
        sent_at=utcnow(),
        last_error=None,
    )
    if done:
        _mirror(session, run_id, SENT, mlflow_run_id)
    return done


def mark_retry(
    session: Session, run_id: str, *, sender: str, error: str, next_attempt_at: datetime
) -> bool:
    """An attempt failed for a reason that passes (MLflow down): due again later."""
    done = _settle(session, run_id, sender, last_error=error, next_attempt_at=next_attempt_at)
    if done:
        _mirror(session, run_id, f"{PENDING}: {error}", None)
    return done


def mark_failed(session: Session, run_id: str, *, sender: str, error: str) -> bool:
    """MLflow refused the record for good (it will not be sent again)."""
    done = _settle(session, run_id, sender, state=FAILED, last_error=error)
    if done:
        _mirror(session, run_id, f"{FAILED}: {error}", None)
    return done


def get(session: Session, run_id: str) -> TrackingRecord | None:
    """The record of a run, if it has one."""
    return session.get(TrackingRecord, run_id)


def counts(session: Session) -> dict[str, int]:
    """Records per state (every state present, zero when none)."""
    rows = session.execute(
        select(TrackingRecord.state, func.count()).group_by(TrackingRecord.state)
    ).all()
    found = {state: int(count) for state, count in rows}
    return {state: found.get(state, 0) for state in STATES}


def _settle(session: Session, run_id: str, sender: str, **values: Any) -> bool:
    changed = session.execute(
        update(TrackingRecord)
        .where(
            TrackingRecord.run_id == run_id,
            TrackingRecord.state == PENDING,
            TrackingRecord.claimed_by == sender,
        )
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1


def _mirror(session: Session, run_id: str, status: str, mlflow_run_id: str | None) -> None:
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(tracking_status=status[:2000], mlflow_run_id=mlflow_run_id)
        .execution_options(synchronize_session=False)
    )
