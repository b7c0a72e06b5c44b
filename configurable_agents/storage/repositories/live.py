"""The live token channel in the database: who watches a run, and each running llm step's
text so far.

Watchers (the dashboard, `configurable-agents run --queue --follow`) renew a lease row per
run; the process executing the run writes a step's partial text only while a lease is live
(see configurable_agents.engine.live_tokens). The finished step still goes to run_steps once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from configurable_agents.storage.models import RunWatch, StepPartial, utcnow
from configurable_agents.storage.repositories._dialect import insert


def watch(session: Session, run_ids: Iterable[str], seconds: float) -> None:
    """Someone follows these runs for the next ``seconds`` (a later expiry is kept)."""
    expires = utcnow() + timedelta(seconds=seconds)
    for run_id in run_ids:
        statement = insert(session, RunWatch).values(run_id=run_id, expires_at=expires)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id"], set_={"expires_at": expires}
        )
        session.execute(statement)


def unwatch(session: Session, run_ids: Iterable[str]) -> None:
    """Nobody here follows these runs any more (another watcher renews its own lease)."""
    ids = list(run_ids)
    if ids:
        session.execute(delete(RunWatch).where(RunWatch.run_id.in_(ids)))


def is_watched(session: Session, run_id: str, now: datetime | None = None) -> bool:
    """Whether a live lease exists for the run."""
    expires = session.scalar(select(RunWatch.expires_at).where(RunWatch.run_id == run_id))
    return expires is not None and expires > (now or utcnow())


def write_partial(
    session: Session, run_id: str, node: str, generation: int, text: str, started_at: datetime
) -> None:
    """Store the text a node has produced so far in this execution (one row per node)."""
    now = utcnow()
    values = {"generation": generation, "text": text, "started_at": started_at, "updated_at": now}
    statement = insert(session, StepPartial).values(run_id=run_id, node=node, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["run_id", "node"], set_=values))


def partials(session: Session, run_ids: Sequence[str]) -> Sequence[StepPartial]:
    """The partial rows of these runs."""
    if not run_ids:
        return []
    return session.scalars(select(StepPartial).where(StepPartial.run_id.in_(list(run_ids)))).all()


def clear_partials(session: Session, run_id: str) -> None:
    """Forget a run's partial texts (its steps are stored; the run ended)."""
    session.execute(delete(StepPartial).where(StepPartial.run_id == run_id))
