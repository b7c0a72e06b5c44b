"""Chat builder conversations: sessions and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from configurable_agents.storage.errors import ChatSessionNotFoundError
from configurable_agents.storage.models import ChatMessage, ChatSession, utcnow
from configurable_agents.storage.values import require_storable

ROLES = ("user", "assistant", "system")


def create_session(
    session: Session,
    *,
    title: str = "New workflow",
    workflow_id: int | None = None,
    config_yaml: str | None = None,
) -> ChatSession:
    """A new, empty conversation."""
    require_storable({"title": title, "config_yaml": config_yaml}, ())
    chat = ChatSession(title=title, workflow_id=workflow_id, config_yaml=config_yaml)
    session.add(chat)
    session.flush()
    return chat


def get(session: Session, chat_id: str) -> ChatSession:
    """A conversation by id (messages load on access), or ChatSessionNotFoundError."""
    chat = session.get(ChatSession, chat_id)
    if chat is None:
        raise ChatSessionNotFoundError(f"no chat session with id {chat_id}")
    return chat


def load(session: Session, chat_id: str) -> ChatSession:
    """A conversation with all its messages, oldest first, in one round of queries."""
    chat = session.scalar(
        select(ChatSession)
        .where(ChatSession.id == chat_id)
        .options(selectinload(ChatSession.messages))
    )
    if chat is None:
        raise ChatSessionNotFoundError(f"no chat session with id {chat_id}")
    return chat


def append_message(
    session: Session,
    chat_id: str,
    *,
    role: str,
    content: str,
    meta: dict[str, Any] | None = None,
) -> ChatMessage:
    """Add a message at the end of the conversation; the conversation moves to the top."""
    if role not in ROLES:
        raise ValueError(f"chat message role must be one of {', '.join(ROLES)}, got {role!r}")
    require_storable({"content": content, "meta": meta}, ())
    chat = get(session, chat_id)
    # Setting the parent appends to a loaded message list without loading an unloaded one.
    message = ChatMessage(session=chat, role=role, content=content, meta=meta or {})
    session.add(message)
    chat.updated_at = utcnow()
    session.flush()
    return message


def list_messages(
    session: Session, chat_id: str, *, after_id: int | None = None
) -> Sequence[ChatMessage]:
    """A conversation's messages, oldest first; ``after_id`` gives only newer ones."""
    query = select(ChatMessage).where(ChatMessage.session_id == chat_id)
    if after_id is not None:
        query = query.where(ChatMessage.id > after_id)
    return session.scalars(query.order_by(ChatMessage.id)).all()


def list_sessions(session: Session, *, limit: int = 50, offset: int = 0) -> Sequence[ChatSession]:
    """Conversations, the most recently active first."""
    query = select(ChatSession).order_by(ChatSession.updated_at.desc(), ChatSession.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def set_config(session: Session, chat_id: str, config_yaml: str | None) -> ChatSession:
    """Remember the conversation's latest valid config."""
    require_storable(config_yaml, ("config_yaml",))
    chat = get(session, chat_id)
    chat.config_yaml = config_yaml
    session.flush()
    return chat


def set_workflow(session: Session, chat_id: str, workflow_id: int | None) -> ChatSession:
    """Link the conversation to the workflow it saved."""
    chat = get(session, chat_id)
    chat.workflow_id = workflow_id
    session.flush()
    return chat


def set_title(session: Session, chat_id: str, title: str) -> ChatSession:
    """Rename the conversation."""
    if not title.strip():
        raise ValueError("chat session title must not be empty")
    require_storable(title, ("title",))
    chat = get(session, chat_id)
    chat.title = title.strip()
    session.flush()
    return chat


def delete_session(session: Session, chat_id: str) -> None:
    """Remove a conversation and its messages."""
    session.delete(get(session, chat_id))
    session.flush()
