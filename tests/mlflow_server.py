"""A real MLflow tracking server for tests, started the way the Procfile starts it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from configurable_agents.settings import load_settings
from configurable_agents.tracking.server import mlflow_server_command, mlflow_server_environment


@contextmanager
def running_mlflow(data_dir: Path, port: int, timeout: float = 90.0) -> Iterator[str]:
    """Start `mlflow server` on a port with its store in data_dir; yield its URL."""
    settings = load_settings(data_dir=data_dir, mlflow_port=port)
    settings.ensure_data_dir()
    log = (data_dir / "mlflow.log").open("wb")
    process = subprocess.Popen(
        mlflow_server_command(settings),
        env=mlflow_server_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"MLflow did not start: {(data_dir / 'mlflow.log').read_text()[-2000:]}"
                )
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
        log.close()
