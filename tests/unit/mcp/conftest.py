"""A migrated SQLite database and settings for the MCP tests (runs execute in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    session_scope,
)
from configurable_agents.storage.migrations import upgrade_to_head
from configurable_agents.storage.repositories import workflows


@pytest.fixture
def mcp_settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir, tracking_enabled=False)


@pytest.fixture
def mcp_database(mcp_settings: Settings) -> Iterator[Database]:
    engine = create_db_engine(mcp_settings.effective_database_url)
    upgrade_to_head(engine, mcp_settings.data_path)
    yield Database(engine=engine, session_factory=make_session_factory(engine))
    engine.dispose()


def save_workflow(database: Database, text: str, name: str) -> None:
    """Store a workflow version."""
    with session_scope(database.session_factory) as session:
        workflows.save(session, name=name, config_yaml=text)
