"""The indexes the listing pages rely on exist after migrating, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

# (table, leading columns a listing filters and sorts by)
LISTING_INDEXES = [
    ("runs", ("created_at",)),
    ("runs", ("state", "created_at")),
    ("runs", ("workflow_id", "created_at")),
    ("runs", ("state", "lease_expires_at")),
    ("run_steps", ("run_id", "seq")),
    ("agents", ("kind", "last_heartbeat")),
    ("chat_messages", ("session_id",)),
    ("chat_sessions", ("updated_at",)),
    ("workflow_versions", ("workflow_id", "version")),
    ("trigger_events", ("received_at",)),
    ("trigger_events", ("workflow_name", "kind", "idempotency_key")),
    ("memory_entries", ("workflow_name", "namespace", "key")),
    ("experiment_results", ("experiment_id", "variant_id")),
]


def _indexed_column_lists(engine: Engine, table: str) -> list[tuple[str, ...]]:
    """Column lists of every index, including those behind unique constraints."""
    inspector = inspect(engine)
    lists = [tuple(index["column_names"]) for index in inspector.get_indexes(table)]
    lists += [tuple(unique["column_names"]) for unique in inspector.get_unique_constraints(table)]
    return lists


@pytest.mark.parametrize(("table", "columns"), LISTING_INDEXES, ids=lambda v: str(v))
def test_listing_index_exists(engine: Engine, table: str, columns: tuple[str, ...]) -> None:
    indexed = _indexed_column_lists(engine, table)
    assert any(found[: len(columns)] == columns for found in indexed), (
        f"no index on {table} starting with {columns}; found {indexed}"
    )


def test_accepted_trigger_keys_are_unique_only_among_accepted(engine: Engine) -> None:
    (index,) = [
        index
        for index in inspect(engine).get_indexes("trigger_events")
        if index["name"] == "uq_trigger_events_accepted_key"
    ]
    assert index["unique"]
    where = index.get("dialect_options", {}).get(f"{engine.dialect.name}_where")
    assert "accepted" in str(where)
