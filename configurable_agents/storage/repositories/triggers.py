"""Trigger events: webhook deliveries and schedule ticks, made idempotent by their key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import TriggerEventNotFoundError
from configurable_agents.storage.models import TriggerEvent, utcnow
from configurable_agents.storage.repositories._dialect import insert

ACCEPTED = "accepted"
REJECTED = "rejected"
KINDS = ("webhook", "schedule")
# What came of an event.
STARTED = "started"
SKIPPED = "skipped"
REFUSED = "refused"
OUTCOMES = (STARTED, SKIPPED, REFUSED)


class Recorded(NamedTuple):
    """The stored event, and whether this delivery repeated an accepted one."""

    event: TriggerEvent
    duplicate: bool


def record(
    session: Session,
    *,
    workflow_name: str,
    kind: str,
    key: str,
    detail: str = "",
    run_id: str | None = None,
    outcome: str = STARTED,
) -> Recorded:
    """Accept a delivery once per (workflow, kind, key).

    A repeat returns the event accepted first with ``duplicate=True``; it never raises and
    leaves the session usable, because the insert is an INSERT .. ON CONFLICT DO NOTHING,
    which is also safe when two workers record the same key at the same moment. A schedule
    tick is accepted once whatever came of it (``outcome`` started, skipped or refused), so
    every tick has one outcome over all workers.
    """
    _check_kind(kind)
    if outcome not in OUTCOMES:
        raise ValueError(f"trigger outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    statement = (
        insert(session, TriggerEvent)
        .values(
            workflow_name=workflow_name,
            kind=kind,
            idempotency_key=key,
            status=ACCEPTED,
            detail=detail,
            outcome=outcome,
            run_id=run_id,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=["workflow_name", "kind", "idempotency_key"],
            index_where=text("status = 'accepted'"),
        )
        .returning(TriggerEvent.id)
    )
    new_id = session.execute(statement).scalar_one_or_none()
    if new_id is not None:
        return Recorded(get(session, new_id), duplicate=False)
    existing = get_accepted(session, workflow_name=workflow_name, kind=kind, key=key)
    if existing is None:  # the conflict above says it exists; never expected
        raise TriggerEventNotFoundError(
            f"accepted {kind} event {key!r} of {workflow_name} vanished"
        )
    return Recorded(existing, duplicate=True)


def record_rejected(
    session: Session, *, workflow_name: str, kind: str, key: str, detail: str
) -> TriggerEvent:
    """Keep a refused delivery (bad signature, invalid inputs ...) for the record.

    It does not count for idempotency: a later good delivery with the same key is accepted.
    """
    _check_kind(kind)
    event = TriggerEvent(
        workflow_name=workflow_name,
        kind=kind,
        idempotency_key=key,
        status=REJECTED,
        detail=detail,
        outcome=REFUSED,
    )
    session.add(event)
    session.flush()
    return event


def attach_run(session: Session, event: TriggerEvent, run_id: str) -> TriggerEvent:
    """Point an accepted event at the run it started."""
    event.run_id = run_id
    session.flush()
    return event


def get(session: Session, event_id: int) -> TriggerEvent:
    """An event by id, or TriggerEventNotFoundError."""
    event = session.get(TriggerEvent, event_id)
    if event is None:
        raise TriggerEventNotFoundError(f"no trigger event with id {event_id}")
    return event


def get_accepted(
    session: Session, *, workflow_name: str, kind: str, key: str
) -> TriggerEvent | None:
    """The accepted event for a key, if any."""
    return session.scalar(
        select(TriggerEvent).where(
            TriggerEvent.workflow_name == workflow_name,
            TriggerEvent.kind == kind,
            TriggerEvent.idempotency_key == key,
            TriggerEvent.status == ACCEPTED,
        )
    )


def latest_key(session: Session, *, workflow_name: str, kind: str, prefix: str) -> str | None:
    """The greatest accepted key starting with ``prefix`` (for schedule ticks, whose keys
    end with the tick's time in ISO form, the latest tick handled)."""
    return session.scalar(
        select(func.max(TriggerEvent.idempotency_key)).where(
            TriggerEvent.workflow_name == workflow_name,
            TriggerEvent.kind == kind,
            TriggerEvent.status == ACCEPTED,
            TriggerEvent.idempotency_key.startswith(prefix, autoescape=True),
        )
    )


def list_events(
    session: Session,
    *,
    workflow_name: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> Sequence[TriggerEvent]:
    """Deliveries, the most recent first."""
    query = select(TriggerEvent)
    if workflow_name is not None:
        query = query.where(TriggerEvent.workflow_name == workflow_name)
    if kind is not None:
        query = query.where(TriggerEvent.kind == kind)
    if status is not None:
        query = query.where(TriggerEvent.status == status)
    order = (TriggerEvent.received_at.desc(), TriggerEvent.id.desc())
    return session.scalars(query.order_by(*order).limit(limit)).all()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"trigger kind must be one of {', '.join(KINDS)}, got {kind!r}")
