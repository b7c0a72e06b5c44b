"""A real MLflow tracking server for tests, started the way the Procfile starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def running_mlflow(data_dir: Path, port: int, timeout: float = 90.0) -> Iterator[str]:
    """Start the Procfile's MLflow process on a port with its store in data_dir; yield its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_BACKEND_STORE_URI": "",
    }
    log = (data_dir / "mlflow.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "configurable_agents", "mlflow-server"],
        env=env,
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
