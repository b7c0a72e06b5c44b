"""Launches MLflow's tracking server for the Procfile with the settings measured to fit.

Defaults start 4 web workers and a job runner with 7 Huey consumers (about 2.7 GB RSS);
one web worker and no job runner take about 0.5 GB.
"""

from __future__ import annotations

import os
import shutil
import sys

from configurable_agents.bootstrap import check_port_free, start_process
from configurable_agents.settings import Settings


def mlflow_server_command(settings: Settings) -> list[str]:
    """The argv of `mlflow server` for this set."""
    artifacts = settings.data_path / "mlflow-artifacts"
    mlflow = shutil.which("mlflow") or os.path.join(os.path.dirname(sys.executable), "mlflow")
    return [
        mlflow,
        "server",
        "--backend-store-uri",
        settings.effective_mlflow_backend_store_uri,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        settings.mlflow_host,
        "--port",
        str(settings.mlflow_port),
        "--workers",
        "1",
        # The dashboard probes /health every tick; an access line each time is noise.
        "--uvicorn-opts",
        "--no-access-log",
    ]


def mlflow_server_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def exec_mlflow_server() -> int:
    """Replace this process with `mlflow server` (signals from honcho then reach it directly)."""

    settings = start_process("mlflow")
    settings.ensure_data_dir()
    check_port_free("mlflow", settings.mlflow_host, settings.mlflow_port, "MLFLOW_PORT")
    command = mlflow_server_command(settings)
    print(
        f"mlflow starting at {settings.mlflow_url} (store {settings.effective_mlflow_backend_store_uri})",
        flush=True,
    )
    os.execve(command[0], command, mlflow_server_environment())
    return 0  # not reached
