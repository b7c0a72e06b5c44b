"""Workflow memory: JSON values by workflow, namespace and key; upserts on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.errors import InvalidValueError
from configurable_agents.storage.repositories import memory
from tests.unit.storage._concurrent import run_in_threads

VALUES = [
    {"seen": ["a", "b"], "count": 2, "nested": {"ok": True}},
    [1, 2.5, "three", None],
    "plain text with ünïcode",
    42,
    None,
]


@pytest.mark.parametrize("value", VALUES, ids=["object", "list", "string", "number", "null"])
def test_json_values_round_trip(session_factory: sessionmaker[Session], value: object) -> None:
    with session_factory() as session:
        memory.set_value(session, "triage", "state", value)
        session.commit()

    with session_factory() as session:
        entry = memory.get(session, "triage", "state")
        assert entry is not None and entry.value == value
        assert entry.updated_at.tzinfo is not None


def test_set_twice_replaces_in_place(session: Session) -> None:
    first = memory.set_value(session, "triage", "count", 1)
    second = memory.set_value(session, "triage", "count", 2)

    assert second.id == first.id
    assert memory.get_value(session, "triage", "count") == 2
    assert second.updated_at >= first.updated_at
    assert len(memory.list_entries(session, "triage")) == 1


def test_namespaces_and_workflows_are_separate(session: Session) -> None:
    memory.set_value(session, "triage", "k", "default ns")
    memory.set_value(session, "triage", "k", "users ns", namespace="users")
    memory.set_value(session, "other", "k", "other workflow")

    assert memory.get_value(session, "triage", "k") == "default ns"
    assert memory.get_value(session, "triage", "k", namespace="users") == "users ns"
    assert memory.get_value(session, "other", "k") == "other workflow"
    assert memory.get_value(session, "triage", "missing", default="fallback") == "fallback"
    assert memory.get(session, "nobody", "k") is None


def test_list_as_dict_delete_and_clear(session: Session) -> None:
    for key, value in [("b", 2), ("a", 1), ("c", 3)]:
        memory.set_value(session, "triage", key, value)
    memory.set_value(session, "triage", "z", "other", namespace="archive")

    listed = [(e.namespace, e.key) for e in memory.list_entries(session, "triage")]
    assert listed == [("archive", "z"), ("default", "a"), ("default", "b"), ("default", "c")]
    assert memory.as_dict(session, "triage") == {"a": 1, "b": 2, "c": 3}

    assert memory.delete_key(session, "triage", "b") is True
    assert memory.delete_key(session, "triage", "b") is False
    assert memory.as_dict(session, "triage") == {"a": 1, "c": 3}
    assert memory.clear(session, "triage", namespace="default") == 2
    assert [e.key for e in memory.list_entries(session, "triage")] == ["z"]
    assert memory.clear(session, "triage") == 1


def test_value_that_is_not_json_is_a_named_error(session: Session) -> None:
    with pytest.raises(InvalidValueError, match="triage/default/when"):
        memory.set_value(session, "triage", "when", {1, 2})
    with pytest.raises(InvalidValueError, match="not JSON"):
        memory.set_value(session, "triage", "nan", float("nan"))
    # The session is still usable after the refusal.
    memory.set_value(session, "triage", "ok", True)
    assert memory.get_value(session, "triage", "ok") is True


def test_concurrent_writers_leave_one_row(session_factory: sessionmaker[Session]) -> None:
    def write(number: int) -> None:
        with session_factory() as session:
            memory.set_value(session, "triage", "last_writer", number)
            session.commit()

    assert run_in_threads(write, [(n,) for n in range(5)]) == []
    with session_factory() as session:
        (entry,) = memory.list_entries(session, "triage")
        assert entry.value in range(5)
