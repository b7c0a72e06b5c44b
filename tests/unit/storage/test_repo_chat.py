"""Chat sessions and messages on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.errors import ChatSessionNotFoundError
from configurable_agents.storage.models import ChatMessage, utcnow
from configurable_agents.storage.repositories import chat, workflows


def test_conversation_round_trips_in_order(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        conversation = chat.create_session(session, title="Email triage")
        chat.append_message(session, conversation.id, role="user", content="Sort my email")
        chat.append_message(
            session,
            conversation.id,
            role="assistant",
            content="Here is a workflow",
            meta={"mode": "builder", "valid": True},
        )
        session.commit()
        chat_id = conversation.id

    with session_factory() as session:
        loaded = chat.load(session, chat_id)
        assert loaded.title == "Email triage"
        assert [(m.role, m.content, m.meta) for m in loaded.messages] == [
            ("user", "Sort my email", {}),
            ("assistant", "Here is a workflow", {"mode": "builder", "valid": True}),
        ]
        assert loaded.created_at.tzinfo is not None
        assert all(m.created_at.tzinfo is not None for m in loaded.messages)


def test_messages_after_an_id(session: Session) -> None:
    conversation = chat.create_session(session)
    first = chat.append_message(session, conversation.id, role="user", content="one")
    loaded = chat.load(session, conversation.id)
    chat.append_message(session, conversation.id, role="assistant", content="two")
    chat.append_message(session, conversation.id, role="user", content="three")

    # A conversation already loaded in this session sees the new messages too.
    assert [m.content for m in loaded.messages] == ["one", "two", "three"]

    assert [m.content for m in chat.list_messages(session, conversation.id)] == [
        "one",
        "two",
        "three",
    ]
    newer = chat.list_messages(session, conversation.id, after_id=first.id)
    assert [m.content for m in newer] == ["two", "three"]


def test_sessions_listed_most_recently_active_first(session: Session) -> None:
    older = chat.create_session(session, title="older")
    newer = chat.create_session(session, title="newer")
    older.updated_at = utcnow() - timedelta(hours=2)
    newer.updated_at = utcnow() - timedelta(hours=1)
    session.flush()
    assert [c.title for c in chat.list_sessions(session)] == ["newer", "older"]

    chat.append_message(session, older.id, role="user", content="back again")

    assert [c.title for c in chat.list_sessions(session)] == ["older", "newer"]
    assert [c.title for c in chat.list_sessions(session, limit=1, offset=1)] == ["newer"]


def test_set_config_workflow_and_title(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        workflow = workflows.create(session, name="triage", config_yaml="name: triage\n")
        conversation = chat.create_session(session)
        chat.set_config(session, conversation.id, "name: triage\n")
        chat.set_workflow(session, conversation.id, workflow.id)
        chat.set_title(session, conversation.id, "  Triage  ")
        session.commit()
        chat_id, workflow_id = conversation.id, workflow.id

    with session_factory() as session:
        stored = chat.get(session, chat_id)
        assert (stored.config_yaml, stored.workflow_id, stored.title) == (
            "name: triage\n",
            workflow_id,
            "Triage",
        )
        with pytest.raises(ValueError, match="title must not be empty"):
            chat.set_title(session, chat_id, "   ")


def test_bad_role_and_missing_session_are_named_errors(session: Session) -> None:
    conversation = chat.create_session(session)

    with pytest.raises(ValueError, match="role must be one of"):
        chat.append_message(session, conversation.id, role="robot", content="hi")
    with pytest.raises(ChatSessionNotFoundError, match="nope"):
        chat.append_message(session, "nope", role="user", content="hi")
    with pytest.raises(ChatSessionNotFoundError):
        chat.load(session, "nope")


def test_delete_session_removes_its_messages(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        conversation = chat.create_session(session)
        chat.append_message(session, conversation.id, role="user", content="hi")
        session.commit()
        chat.delete_session(session, conversation.id)
        session.commit()
        chat_id = conversation.id

    with session_factory() as session:
        left = session.scalars(select(ChatMessage).where(ChatMessage.session_id == chat_id)).all()
        assert left == []
        assert chat.list_sessions(session) == []


def test_deleting_the_workflow_unlinks_the_conversation(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        workflow = workflows.create(session, name="triage", config_yaml="name: triage\n")
        conversation = chat.create_session(session, workflow_id=workflow.id)
        session.commit()
        session.delete(workflow)
        session.commit()
        chat_id = conversation.id

    with session_factory() as session:
        assert chat.get(session, chat_id).workflow_id is None
