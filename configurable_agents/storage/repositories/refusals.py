"""Refusal counts: one row per (source, subject, status, reason), whatever the number of refusals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from configurable_agents.storage.models import RefusalCount, utcnow
from configurable_agents.storage.repositories._dialect import insert

SOURCES = ("webhook",)


def count(session: Session, *, source: str, subject: str, status: int, reason: str) -> None:
    """Add one to the refusal's counter (created at 1), in one INSERT .. ON CONFLICT UPDATE:
    safe when many requests are refused at the same moment."""
    if source not in SOURCES:
        raise ValueError(f"refusal source must be one of {', '.join(SOURCES)}, got {source!r}")
    now = utcnow()
    statement = insert(session, RefusalCount).values(
        source=source,
        subject=subject,
        status=status,
        reason=reason,
        count=1,
        first_at=now,
        last_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["source", "subject", "status", "reason"],
        set_={"count": RefusalCount.count + 1, "last_at": now},
    )
    session.execute(statement)


def list_refusals(
    session: Session, *, source: str | None = None, subject: str | None = None
) -> Sequence[RefusalCount]:
    """The counters, the most recently refused first."""
    query = select(RefusalCount)
    if source is not None:
        query = query.where(RefusalCount.source == source)
    if subject is not None:
        query = query.where(RefusalCount.subject == subject)
    return session.scalars(query.order_by(RefusalCount.last_at.desc(), RefusalCount.id)).all()
