"""Serves this set's MLflow tracking server (UI, REST API, /health) from one process.

`mlflow server` is a launcher: its CLI imports MLflow, creates the store, then starts
`python -m uvicorn mlflow.server.fastapi_app:app` as a child that imports MLflow again and
stays beside the idle CLI process. On two cores that second import (about 3 CPU-seconds)
made MLflow the slowest service of the set, and the idle launcher held about 0.3 GB.

Here the same steps run once, in this process: the environment `mlflow server` hands its
child, the store initialised with the function its CLI calls, and MLflow's own ASGI app
served by uvicorn. The settings are the ones measured to fit: one web worker and no job
runner (MLflow's defaults, 4 workers and 7 Huey consumers, take about 2.7 GB).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from configurable_agents.bootstrap import check_port_free, start_process
from configurable_agents.settings import Settings

PROCESS = "mlflow"
# Seconds open requests get after Ctrl+C, as for the dashboard and the chat.
GRACEFUL_SHUTDOWN_SECONDS = 3


@dataclass(frozen=True)
class TrackingServer:
    """Where this set's MLflow server keeps its data and listens."""

    store_uri: str
    artifacts_destination: Path
    host: str
    port: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackingServer:
        return cls(
            store_uri=settings.effective_mlflow_backend_store_uri,
            artifacts_destination=settings.data_path / "mlflow-artifacts",
            host=settings.mlflow_host,
            port=settings.mlflow_port,
        )


def mlflow_server_environment(server: TrackingServer) -> dict[str, str]:
    """What `mlflow server --workers 1` with job execution off sets for its uvicorn child.

    The `_MLFLOW_SERVER_*` names are `mlflow.server.constants`; they are written out because
    importing that module runs `mlflow.server`, which reads them on import. A unit test
    checks them against MLflow's constants.
    """
    return {
        "_MLFLOW_SERVER_FILE_STORE": server.store_uri,
        "_MLFLOW_SERVER_REGISTRY_STORE": server.store_uri,
        # `--serve-artifacts` (the default): clients upload through this server, which
        # writes under the data folder.
        "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/",
        "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
        "_MLFLOW_SERVER_ARTIFACT_DESTINATION": str(server.artifacts_destination),
        "_MLFLOW_SERVER_BOOT_ID": uuid.uuid4().hex,
        "_MLFLOW_SGI_NAME": "uvicorn",
        "_MLFLOW_IN_JOB_EXECUTOR": "false",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_ENABLE_WORKSPACES": "false",
    }


def uvicorn_log_config(mlflow_server_dir: Path) -> dict[str, Any]:
    """MLflow's own uvicorn log format, so the output reads as under `mlflow server`.

    This process also has a root handler (bootstrap's logging set-up) that uvicorn's lines
    must not reach, or each would print twice.
    """
    config: dict[str, Any] = yaml.safe_load(
        (mlflow_server_dir / "uvicorn_log_config.yaml").read_text()
    )
    config["loggers"]["uvicorn"]["propagate"] = False
    return config


def serve(server: TrackingServer) -> int:
    """Initialise the store and serve MLflow's app until Ctrl+C; the exit code."""
    # Read by `mlflow.server` on import (it installs its security middleware only when it
    # sees a server configuration), so this comes before any MLflow import.
    os.environ.update(mlflow_server_environment(server))
    server.artifacts_destination.mkdir(parents=True, exist_ok=True)

    import mlflow.server
    import uvicorn
    from mlflow.server.handlers import initialize_backend_stores

    # What `mlflow server` does before starting uvicorn: create or migrate the store, so a
    # broken store fails here with MLflow's message instead of on the first request.
    initialize_backend_stores(server.store_uri, server.store_uri, "mlflow-artifacts:/")

    from mlflow.server.fastapi_app import app

    config = uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        log_config=uvicorn_log_config(Path(mlflow.server.__file__).parent),
        # The dashboard probes /health every tick; an access line each time is noise.
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    uvicorn_server = uvicorn.Server(config)
    uvicorn_server.run()
    return 0 if uvicorn_server.started else 1


def run_mlflow_server() -> int:
    """Entry point of the Procfile's `mlflow` line: settings, port check, then serve."""
    settings = start_process(PROCESS)
    settings.ensure_data_dir()
    check_port_free(PROCESS, settings.mlflow_host, settings.mlflow_port, "MLFLOW_PORT")
    server = TrackingServer.from_settings(settings)
    print(f"mlflow starting at {settings.mlflow_url} (store {server.store_uri})", flush=True)
    return serve(server)
