"""Agents: workers and remote agents, tokens, heartbeats and liveness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.errors import AgentNotFoundError
from configurable_agents.storage.models import Agent, utcnow
from configurable_agents.storage.repositories import agents

SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}}}


def test_remote_agent_round_trips_without_its_token(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        agent, token = agents.register_remote(
            session, name="researcher", url="http://127.0.0.1:9000", input_schema=SCHEMA
        )
        session.commit()
        agent_id = agent.id

    with session_factory() as session:
        stored = agents.require(session, agent_id)
        assert (stored.kind, stored.name, stored.url, stored.input_schema) == (
            "remote",
            "researcher",
            "http://127.0.0.1:9000",
            SCHEMA,
        )
        assert stored.registered_at.tzinfo is not None
        assert stored.last_heartbeat.tzinfo is not None
        # Only a hash is stored: the token appears in no column of the row.
        raw_row = session.execute(select(Agent.__table__).where(Agent.id == agent_id)).one()
        assert all(token not in str(value) for value in raw_row)
        assert len(token) >= 40


def test_verify_token_accepts_only_the_agents_own_token(session: Session) -> None:
    first, first_token = agents.register_remote(session, name="a", url="http://127.0.0.1:1")
    second, second_token = agents.register_remote(session, name="b", url="http://127.0.0.1:2")
    worker = agents.register(session, name="worker-1")

    assert agents.verify_token(session, first.id, first_token) is first
    assert agents.verify_token(session, first.id, second_token) is None
    assert agents.verify_token(session, second.id, "") is None
    assert agents.verify_token(session, "unknown-id", first_token) is None
    assert agents.verify_token(session, worker.id, "anything") is None
    agents.deregister(session, first.id)
    assert agents.verify_token(session, first.id, first_token) is None


def test_get_and_require(session: Session) -> None:
    worker = agents.register(session, name="worker-1", host="box", pid=42)

    assert agents.get(session, worker.id) is worker
    assert agents.get(session, "missing") is None
    with pytest.raises(AgentNotFoundError, match="missing"):
        agents.require(session, "missing")


def test_list_with_liveness_newest_heartbeat_first(session: Session) -> None:
    now = utcnow()
    alive = agents.register(session, name="alive", ttl_seconds=15)
    stale = agents.register(session, name="stale", ttl_seconds=15)
    dead = agents.register(session, name="dead", ttl_seconds=15)
    gone = agents.register(session, name="gone", ttl_seconds=15)
    remote, _ = agents.register_remote(session, name="remote", url="http://127.0.0.1:3")
    alive.last_heartbeat = now - timedelta(seconds=5)
    stale.last_heartbeat = now - timedelta(seconds=20)
    dead.last_heartbeat = now - timedelta(seconds=120)
    gone.last_heartbeat = now - timedelta(seconds=1)
    remote.last_heartbeat = now - timedelta(seconds=2)
    agents.deregister(session, gone.id)
    session.flush()

    listed = agents.list_with_liveness(session, kind="worker", now=now)
    assert [(s.agent.name, s.liveness) for s in listed] == [
        ("gone", "dead"),
        ("alive", "alive"),
        ("stale", "stale"),
        ("dead", "dead"),
    ]
    living = agents.list_with_liveness(session, include_dead=False, now=now)
    assert [s.agent.name for s in living] == ["remote", "alive", "stale"]
    assert agents.count_alive(session) == 1


def test_heartbeat_revives_and_updates_load(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        worker = agents.register(session, name="worker-1", concurrency=4)
        worker.last_heartbeat = utcnow() - timedelta(minutes=10)
        session.commit()
        agent_id = worker.id

    with session_factory() as session:
        assert agents.heartbeat(session, agent_id, runs_in_progress=3) is not None
        assert agents.heartbeat(session, "missing") is None
        session.commit()

    with session_factory() as session:
        (status,) = agents.list_with_liveness(session)
        assert status.liveness == "alive"
        assert (status.agent.runs_in_progress, status.agent.concurrency) == (3, 4)
