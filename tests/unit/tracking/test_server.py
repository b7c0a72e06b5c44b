"""The MLflow process sets what `mlflow server` would set, under MLflow's own names."""

from __future__ import annotations

from pathlib import Path

import mlflow.environment_variables as mlflow_env
import mlflow.server
import mlflow.server.constants as constants

from configurable_agents.settings import load_settings
from configurable_agents.tracking.server import (
    TrackingServer,
    mlflow_server_environment,
    uvicorn_log_config,
)


def server(tmp_path: Path) -> TrackingServer:
    return TrackingServer.from_settings(load_settings(data_dir=tmp_path, mlflow_port=5123))


def test_the_environment_uses_mlflows_names_for_store_artifacts_and_jobs(tmp_path: Path) -> None:
    env = mlflow_server_environment(server(tmp_path))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    assert env[constants.BACKEND_STORE_URI_ENV_VAR] == store
    assert env[constants.REGISTRY_STORE_URI_ENV_VAR] == store
    assert env[constants.ARTIFACT_ROOT_ENV_VAR] == "mlflow-artifacts:/"
    assert env[constants.SERVE_ARTIFACTS_ENV_VAR] == "true"
    assert env[constants.ARTIFACTS_DESTINATION_ENV_VAR] == str(tmp_path / "mlflow-artifacts")
    assert env[mlflow_env.MLFLOW_SERVER_ENABLE_JOB_EXECUTION.name] == "false"
    assert env[mlflow_env.MLFLOW_ENABLE_WORKSPACES.name] == "false"
    assert env[mlflow_env._MLFLOW_SGI_NAME.name] == "uvicorn"
    assert env[mlflow_env._MLFLOW_IN_JOB_EXECUTOR.name] == "false"
    assert env[mlflow_env._MLFLOW_SERVER_BOOT_ID.name]
    # X-Frame-Options stays MLflow's default (SAMEORIGIN) unless the user sets it.
    assert mlflow_env.MLFLOW_SERVER_X_FRAME_OPTIONS.name not in env


def test_uvicorn_lines_print_once_in_mlflows_format() -> None:
    config = uvicorn_log_config(Path(mlflow.server.__file__).parent)

    assert config["loggers"]["uvicorn"]["propagate"] is False
    assert "asctime" in config["formatters"]["default"]["fmt"]
