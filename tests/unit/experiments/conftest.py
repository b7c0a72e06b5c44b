"""The engine tests' migrated SQLite database and settings that send every llm node to the
scripted server."""

from __future__ import annotations

import pytest

from configurable_agents.settings import Settings
from tests.fakes import fake_llm_server  # noqa: F401
from tests.unit.engine.conftest import database, engine_settings  # noqa: F401


@pytest.fixture
def exp_settings(engine_settings: Settings) -> Settings:  # noqa: F811
    return engine_settings
