"""Runs reach MLflow as a run with a trace (or say why not), and run on the embedded model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.engine.runner import open_engine
from configurable_agents.settings import load_settings
from configurable_agents.storage.models import Run, RunState
from configurable_agents.storage.repositories import outbox
from tests.conftest import free_port
from tests.fakes import FakeLLMServer
from tests.mlflow_server import running_mlflow
from tests.unit.engine.conftest import StoreRun
from tests.unit.engine.test_execution import LINEAR


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_mlflow(tmp_path_factory.mktemp("mlflow"), free_port()) as url:
        yield url


def test_run_is_logged_with_a_span_per_node(
    data_dir: Path,
    database: Database,
    store_run: StoreRun,
    fake_llm_server: FakeLLMServer,
    mlflow_url: str,
) -> None:
    from mlflow import MlflowClient

    settings = load_settings(
        data_dir=data_dir,
        llm_provider="openai",
        llm_model="fake-model",
        llm_base_url=fake_llm_server.base_url,
        mlflow_tracking_uri=mlflow_url,
    )
    run_id = store_run(LINEAR, {"topic": "owls"})
    with open_engine(settings, database.session_factory) as engine:
        assert engine.execute(run_id).state == RunState.COMPLETED  # type: ignore[union-attr]

    with database.session_factory() as session:
        run = session.get(Run, run_id)
    assert run is not None and run.tracking_status == "sent"
    client = MlflowClient(mlflow_url)
    logged = client.get_run(run.mlflow_run_id)
    assert logged.data.tags["configurable_agents.run_id"] == run_id
    assert logged.data.metrics["total_tokens"] == run.total_tokens
    [trace] = client.search_traces(locations=[logged.info.experiment_id])
    assert [span.name for span in trace.data.spans] == ["linear", "outline", "write"]


def test_mlflow_down_leaves_the_record_pending_and_never_fails_the_run(
    data_dir: Path, database: Database, store_run: StoreRun, fake_llm_server: FakeLLMServer
) -> None:
    settings = load_settings(
        data_dir=data_dir,
        llm_provider="openai",
        llm_model="fake-model",
        llm_base_url=fake_llm_server.base_url,
        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}",
    )
    run_id = store_run(LINEAR, {"topic": "owls"})
    with open_engine(settings, database.session_factory) as engine:
        outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == RunState.COMPLETED
    with database.session_factory() as session:
        run = session.get(Run, run_id)
    assert run is not None and run.mlflow_run_id is None
    assert (run.tracking_status or "").startswith(
        "pending: MLflow unreachable at http://127.0.0.1:"
    )
    with database.session_factory() as session:
        record = outbox.get(session, run_id)
    # Stored with the run's end: a worker's sender delivers it once MLflow is back.
    assert record is not None and record.state == "pending"
    assert record.record["run_id"] == run_id and len(record.record["spans"]) == 2


ROUTED_LOCAL = """
schema_version: 1
name: local-routed
state:
  text: {type: str, required: true}
  mood: {type: enum, values: [happy, sad]}
  reply: {type: str}
llm: {max_tokens: 24, temperature: 0}
nodes:
  - {id: classify, kind: llm, prompt: "Is this happy or sad? {text}", output: mood}
  - id: route
    kind: router
    routes: [{when: {field: mood, op: eq, value: happy}, to: cheer}]
    default: comfort
  - {id: cheer, kind: llm, prompt: "Say something cheerful about: {text}", output: reply}
  - {id: comfort, kind: llm, prompt: "Say something kind about: {text}", output: reply}
edges:
  - {from: START, to: classify}
  - {from: classify, to: route}
  - {from: cheer, to: END}
  - {from: comfort, to: END}
"""


@pytest.mark.parametrize(
    ("config", "inputs"),
    [
        ("summarize.yaml", {"text": "Owls hunt at night and sleep by day."}),
        (ROUTED_LOCAL, {"text": "I won!"}),
    ],
    ids=["linear", "routed"],
)
def test_workflow_completes_on_the_embedded_model(
    data_dir: Path, database: Database, store_run: StoreRun, config: str, inputs: dict[str, str]
) -> None:
    settings = load_settings(data_dir=data_dir, llm_provider="local", tracking_enabled=False)
    run_id = store_run(config, inputs)
    with open_engine(settings, database.session_factory) as engine:
        outcome = engine.execute(run_id)

    assert outcome is not None and outcome.state == RunState.COMPLETED, outcome.error_message
    with database.session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        produced = [step for step in run.steps if step.kind == "llm"]
    assert produced and all(step.completion_tokens > 0 for step in produced)
    assert all(step.provider == "local" and step.cost == 0 for step in produced)
    if "mood" in outcome.outputs:  # type: ignore[operator]
        assert outcome.outputs["mood"] in ("happy", "sad")  # type: ignore[index]
        assert {step.node for step in run.steps} & {"cheer", "comfort"}
