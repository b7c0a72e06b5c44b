"""A dashboard app on a real, migrated temporary database, driven by TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from configurable_agents.settings import Settings, load_settings
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    session_scope,
)
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


# --- data the pages show -------------------------------------------------------------------

SUMMARIZE_YAML = """\
schema_version: 1
name: summarize
description: Summarize a text in one sentence.
state:
  text: {type: str, required: true, description: The text to summarize}
  summary: {type: str}
nodes:
  - id: summarize
    kind: llm
    prompt: "Summarize in one sentence: {text}"
    output: summary
edges:
  - {from: START, to: summarize}
  - {from: summarize, to: END}
"""

TYPED_YAML = """\
schema_version: 1
name: typed-inputs
description: A workflow with inputs of several types.
state:
  topic: {type: str, required: true}
  count: {type: int, required: true}
  ratio: {type: float, default: 0.5}
  tone: {type: enum, values: [calm, bold], default: calm}
  answer: {type: str}
nodes:
  - id: write
    kind: llm
    prompt: "Write {count} lines about {topic} in a {tone} tone ({ratio})."
    output: answer
edges:
  - {from: START, to: write}
  - {from: write, to: END}
"""


def store_workflow(database: Database, text: str = SUMMARIZE_YAML, **fields: Any) -> int:
    """A stored workflow (fields override what the repository would take from the text)."""
    from configurable_agents.storage.repositories import workflows

    data = yaml.safe_load(text)
    name = fields.pop("name", None) or data["name"]
    fields.setdefault("description", data.get("description", ""))
    with session_scope(database.session_factory) as session:
        return workflows.create(session, name=name, config_yaml=text, **fields).id


def store_run(
    database: Database,
    workflow_id: int | None,
    *,
    state: str = "queued",
    steps: list[dict[str, Any]] | None = None,
    created_at: datetime | None = None,
    **fields: Any,
) -> str:
    """A run row in the given state with recorded steps, as the engine would leave it."""
    from configurable_agents.storage.models import Run, Workflow
    from configurable_agents.storage.repositories import steps as step_repo
    from configurable_agents.storage.repositories import workflows

    with session_scope(database.session_factory) as session:
        workflow = session.get(Workflow, workflow_id) if workflow_id else None
        version = workflows.get_version(session, workflow_id) if workflow_id else None
        run = Run(
            workflow_id=workflow_id,
            workflow_version_id=version.id if version else None,
            workflow_name=workflow.name if workflow else fields.pop("workflow_name", "gone"),
            inputs=fields.pop("inputs", {"text": "hello"}),
            state=state,
            **fields,
        )
        if created_at is not None:
            run.created_at = created_at
        if state != "queued":
            run.started_at = run.created_at
        session.add(run)
        session.flush()
        for step in steps or []:
            step_repo.record(session, run.id, **step)
        return run.id


@pytest.fixture
def csrf(client: TestClient) -> str:
    """The CSRF token the dashboard gave this browser (cookie), as forms send it."""
    client.get("/settings")
    return client.cookies["ca_csrf"]
