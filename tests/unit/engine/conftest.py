"""An engine on a real migrated SQLite database, talking to the scripted LLM server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from configurable_agents.bootstrap import Database
from configurable_agents.engine.runner import Engine, open_engine
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    session_scope,
)
from configurable_agents.storage.migrations import upgrade_to_head
from configurable_agents.storage.repositories import workflows
from tests.fakes import FakeLLMServer, fake_llm_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def scripted_settings(data_dir: Path, server: FakeLLMServer, **overrides: Any) -> Settings:
    """Settings whose llm nodes ask the scripted server, tracking off."""
    return load_settings(
        data_dir=data_dir,
        llm_provider="openai",
        llm_model="fake-model",
        llm_base_url=server.base_url,
        tracking_enabled=False,
        **overrides,
    )


@contextlib.contextmanager
def migrated_database(settings: Settings) -> Iterator[Database]:
    """The settings' database migrated to head, disposed of on the way out."""
    engine = create_db_engine(settings.effective_database_url)
    try:
        upgrade_to_head(engine, settings.data_path)
        yield Database(engine=engine, session_factory=make_session_factory(engine))
    finally:
        engine.dispose()


def store_queued_run(database: Database, text: str, inputs: dict[str, Any]) -> str:
    """Store a workflow's config and a queued run of it; the run id."""
    name = yaml.safe_load(text)["name"]
    with session_scope(database.session_factory) as session:
        workflow, version = workflows.save(session, name=name, config_yaml=text)
        run = run_lifecycle.create(
            session,
            workflow_name=name,
            workflow_id=workflow.id,
            workflow_version_id=version.id,
            inputs=inputs,
        )
        return run.id


@pytest.fixture
def engine_settings(data_dir: Path, fake_llm_server: FakeLLMServer) -> Settings:  # noqa: F811
    return scripted_settings(data_dir, fake_llm_server)


@pytest.fixture
def database(engine_settings: Settings) -> Iterator[Database]:
    with migrated_database(engine_settings) as migrated:
        yield migrated


@pytest.fixture
def engine(engine_settings: Settings, database: Database) -> Iterator[Engine]:
    with open_engine(engine_settings, database.session_factory) as opened:
        yield opened


StoreRun = Callable[..., str]


@pytest.fixture
def store_run(database: Database) -> StoreRun:
    """Store a workflow (text or example file name) and a queued run of it; returns the run id."""

    def store(source: str, inputs: dict[str, Any] | None = None) -> str:
        text = (EXAMPLES / source).read_text() if source.endswith(".yaml") else source
        return store_queued_run(database, text, inputs or {})

    return store
