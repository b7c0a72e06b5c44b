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


class MlflowServer:
    """The Procfile's MLflow process on a port with its store in data_dir; it can be stopped
    and started again on the same store (an outage)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> str:
        """Start it and wait until /health answers; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(self.port),
            "MLFLOW_BACKEND_STORE_URI": "",
        }
        log_path = self.data_dir / "mlflow.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "configurable_agents", "mlflow-server"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).is_success:
                    return self.url
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"MLflow did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop it (its process group) and wait until it is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)
        self.process = None


@contextmanager
def running_mlflow(data_dir: Path, port: int, timeout: float = 90.0) -> Iterator[str]:
    """Start the Procfile's MLflow process on a port with its store in data_dir; yield its URL."""
    server = MlflowServer(data_dir, port)
    try:
        yield server.start(timeout)
    finally:
        server.stop()
