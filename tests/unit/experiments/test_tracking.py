"""A finished experiment reaches a real MLflow server in the background: an MLflow
experiment, one run per variant with its params and aggregate metrics, the per-row table
as an artifact. A down server is recorded as skipped, fast."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from configurable_agents.bootstrap import Database
from configurable_agents.experiments.creation import create_experiment
from configurable_agents.experiments.definition import parse_definition
from configurable_agents.experiments.local import run_local
from configurable_agents.experiments.tracking import send_in_background, wait_for_sending
from configurable_agents.settings import Settings
from configurable_agents.storage.models import Experiment
from tests.conftest import free_port
from tests.fakes import FakeLLMServer
from tests.fakes.workflows import echo_workflow
from tests.mlflow_server import running_mlflow

DEFINITION = """\
name: tracked
workflow: echo.yaml
dataset: rows.csv
variants:
  - name: a
  - name: b
    llm: {temperature: 0.3}
scorers:
  - {kind: contains, field: reply, value: fake}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "echo.yaml").write_text(echo_workflow())
    (tmp_path / "rows.csv").write_text("text\nx\ny\n")
    (tmp_path / "exp.yaml").write_text(DEFINITION)
    return tmp_path


@pytest.fixture
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_mlflow(tmp_path_factory.mktemp("mlflow"), free_port()) as url:
        yield url


def finished_experiment(settings: Settings, database: Database, files: Path) -> int:
    definition = parse_definition((files / "exp.yaml").read_text(), filename="exp.yaml")
    experiment_id = create_experiment(
        settings, database.session_factory, definition, base_dir=files
    )
    run_local(settings, database.session_factory, experiment_id)
    return experiment_id


def test_experiment_is_logged_to_mlflow(
    exp_settings: Settings,
    database: Database,
    fake_llm_server: FakeLLMServer,
    files: Path,
    mlflow_url: str,
) -> None:
    from mlflow import MlflowClient

    settings = exp_settings.model_copy(
        update={"tracking_enabled": True, "mlflow_tracking_uri": mlflow_url}
    )
    experiment_id = finished_experiment(settings, database, files)
    wait_for_sending(timeout=60)
    with database.session_factory() as session:
        status = session.get(Experiment, experiment_id).mlflow_status  # type: ignore[union-attr]
    assert status is not None and status.startswith("logged: "), status

    client = MlflowClient(mlflow_url)
    found = client.get_experiment_by_name("experiment:tracked")
    assert found is not None and status == f"logged: {found.experiment_id}"
    runs = {run.info.run_name: run for run in client.search_runs([found.experiment_id])}
    assert set(runs) == {"a", "b"}
    assert runs["a"].data.metrics["contains_mean"] == 1.0
    assert runs["b"].data.metrics["pass_rate"] == 1.0
    assert json.loads(runs["b"].data.params["overrides"]) == {"llm": {"temperature": 0.3}}
    local = client.download_artifacts(runs["a"].info.run_id, "rows.json", str(files))
    table = json.loads(Path(local).read_text())["rows"]
    assert [row["inputs"] for row in table] == [{"text": "x"}, {"text": "y"}]
    assert table[0]["cells"][0]["scores"] == {"contains": 1.0}


def test_a_down_mlflow_is_skipped_fast(
    exp_settings: Settings, database: Database, fake_llm_server: FakeLLMServer, files: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = exp_settings.model_copy(update={"tracking_enabled": False})
    experiment_id = finished_experiment(settings, database, files)
    sending = exp_settings.model_copy(
        update={"tracking_enabled": True, "mlflow_tracking_uri": down}
    )
    started = time.monotonic()
    thread = send_in_background(sending, database.session_factory, experiment_id)
    assert thread is not None
    thread.join(30)
    assert time.monotonic() - started < 10  # a bound, not a measurement
    with database.session_factory() as session:
        status = session.get(Experiment, experiment_id).mlflow_status  # type: ignore[union-attr]
    assert status == f"skipped: ConnectionError: MLflow unreachable at {down}"
