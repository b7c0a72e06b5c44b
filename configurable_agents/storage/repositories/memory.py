"""Workflow memory: JSON values by workflow name, namespace and key, kept across runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import InvalidValueError
from configurable_agents.storage.models import MemoryEntry, utcnow
from configurable_agents.storage.repositories._dialect import insert

DEFAULT_NAMESPACE = "default"


def get(
    session: Session, workflow_name: str, key: str, *, namespace: str = DEFAULT_NAMESPACE
) -> MemoryEntry | None:
    """The stored entry, or None."""
    # populate_existing: an upsert bypasses the session's copy of the row.
    return session.scalar(
        select(MemoryEntry)
        .where(*_one_key(workflow_name, namespace, key))
        .execution_options(populate_existing=True)
    )


def get_value(
    session: Session,
    workflow_name: str,
    key: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    default: Any = None,
) -> Any:
    """The stored value, or ``default`` when the key is not set."""
    entry = get(session, workflow_name, key, namespace=namespace)
    return default if entry is None else entry.value


def set_value(
    session: Session,
    workflow_name: str,
    key: str,
    value: Any,
    *,
    namespace: str = DEFAULT_NAMESPACE,
) -> MemoryEntry:
    """Insert or replace a value in one statement (INSERT .. ON CONFLICT DO UPDATE)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidValueError(
            f"memory {workflow_name}/{namespace}/{key}: value is not JSON ({error})"
        ) from None
    now = utcnow()
    statement = insert(session, MemoryEntry).values(
        workflow_name=workflow_name, namespace=namespace, key=key, value=value, updated_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["workflow_name", "namespace", "key"],
            set_={"value": statement.excluded["value"], "updated_at": now},
        )
    )
    return session.execute(
        select(MemoryEntry)
        .where(*_one_key(workflow_name, namespace, key))
        .execution_options(populate_existing=True)
    ).scalar_one()


def delete_key(
    session: Session, workflow_name: str, key: str, *, namespace: str = DEFAULT_NAMESPACE
) -> bool:
    """Remove a key; False when it was not set."""
    removed = session.execute(
        delete(MemoryEntry)
        .where(*_one_key(workflow_name, namespace, key))
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return removed > 0


def list_entries(
    session: Session, workflow_name: str, *, namespace: str | None = None
) -> Sequence[MemoryEntry]:
    """A workflow's entries by namespace then key; one namespace when given."""
    query = select(MemoryEntry).where(MemoryEntry.workflow_name == workflow_name)
    if namespace is not None:
        query = query.where(MemoryEntry.namespace == namespace)
    return session.scalars(
        query.order_by(MemoryEntry.namespace, MemoryEntry.key).execution_options(
            populate_existing=True
        )
    ).all()


def as_dict(
    session: Session, workflow_name: str, *, namespace: str = DEFAULT_NAMESPACE
) -> dict[str, Any]:
    """One namespace as a plain key -> value mapping (what a run reads at start)."""
    return {
        entry.key: entry.value
        for entry in list_entries(session, workflow_name, namespace=namespace)
    }


def clear(session: Session, workflow_name: str, *, namespace: str | None = None) -> int:
    """Remove a workflow's entries (of one namespace when given); returns how many."""
    query = delete(MemoryEntry).where(MemoryEntry.workflow_name == workflow_name)
    if namespace is not None:
        query = query.where(MemoryEntry.namespace == namespace)
    return session.execute(query.execution_options(synchronize_session="fetch")).rowcount


def _one_key(workflow_name: str, namespace: str, key: str) -> tuple[ColumnElement[bool], ...]:
    return (
        MemoryEntry.workflow_name == workflow_name,
        MemoryEntry.namespace == namespace,
        MemoryEntry.key == key,
    )
