"""The status snapshot counts the MLflow records waiting in the tracking outbox and those
MLflow refused (what an operator watches while MLflow is down); SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.status.snapshot import gather_database
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import outbox


def test_pending_and_failed_records_are_counted(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_scope(session_factory) as session:
        ids = []
        for _ in range(3):
            run = run_lifecycle.create(session, workflow_name="w", inputs={}, trigger="cli")
            outbox.store_pending(session, run.id, {"run_id": run.id})
            ids.append(run.id)
        outbox.claim(session, ids[0], sender="s", seconds=60)
        outbox.mark_failed(session, ids[0], sender="s", error="refused")

    status, facts = gather_database(engine, "db")

    assert status.reachable and status.at_head
    assert (facts["tracking_pending"], facts["tracking_failed"]) == (2, 1)
