"""A migrated SQLite database and settings that send every llm node to the scripted server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.database import create_db_engine, make_session_factory
from configurable_agents.storage.migrations import upgrade_to_head
from tests.fakes import FakeLLMServer, fake_llm_server  # noqa: F401


@pytest.fixture
def exp_settings(data_dir: Path, fake_llm_server: FakeLLMServer) -> Settings:  # noqa: F811
    return load_settings(
        data_dir=data_dir,
        llm_provider="openai",
        llm_model="fake-model",
        llm_base_url=fake_llm_server.base_url,
        tracking_enabled=False,
    )


@pytest.fixture
def database(exp_settings: Settings) -> Iterator[Database]:
    engine = create_db_engine(exp_settings.effective_database_url)
    upgrade_to_head(engine, exp_settings.data_path)
    yield Database(engine=engine, session_factory=make_session_factory(engine))
    engine.dispose()
