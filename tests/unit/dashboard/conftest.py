"""A dashboard app on a real, migrated temporary database, driven by TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.database import create_db_engine, make_session_factory
from configurable_agents.storage.migrations import upgrade_to_head
from tests.conftest import free_port


@pytest.fixture
def dashboard_settings(data_dir: Path) -> Settings:
    # Ports nobody listens on: the chat and MLflow probes report "not running".
    return load_settings(
        data_dir=data_dir,
        chat_port=free_port(),
        mlflow_port=free_port(),
        status_tick_seconds=0.2,
    )


@pytest.fixture
def dashboard_database(dashboard_settings: Settings) -> Iterator[Database]:
    engine = create_db_engine(dashboard_settings.effective_database_url)
    upgrade_to_head(engine, dashboard_settings.data_path)
    yield Database(engine=engine, session_factory=make_session_factory(engine))
    engine.dispose()


@pytest.fixture
def client(dashboard_settings: Settings, dashboard_database: Database) -> Iterator[TestClient]:
    from dashboard.app import create_app

    with TestClient(create_app(dashboard_settings, dashboard_database)) as test_client:
        yield test_client
