"""Tasks the workers execute."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from huey import Huey

log = logging.getLogger(__name__)


class WorkerState:
    """What the tasks of this worker process share: its engine and identity."""

    engine: Any = None
    worker_id: str | None = None
    lease_seconds: float = 60.0
    active: set[str] = set()
    lock = threading.Lock()


def register(huey: Huey) -> dict[str, Any]:
    """Register every task on this Huey instance; returns the task wrappers by name
    (calling one enqueues it)."""

    @huey.task(name="ping")
    def ping(payload: str = "") -> str:
        """Round trip through the queue: proves a worker consumes it."""
        return f"pong {payload} from {socket.gethostname()}:{os.getpid()}"

    @huey.task(name="execute_run")
    def execute_run(run_id: str) -> str | None:
        """Execute (or resume) one stored run in this worker."""
        engine = WorkerState.engine
        if engine is None:
            log.error("run %s reached a process without an engine; left queued", run_id)
            return None
        with WorkerState.lock:
            WorkerState.active.add(run_id)
        try:
            outcome = engine.execute(
                run_id, worker_id=WorkerState.worker_id, lease_seconds=WorkerState.lease_seconds
            )
        finally:
            with WorkerState.lock:
                WorkerState.active.discard(run_id)
        return outcome.state if outcome else None

    return {"ping": ping, "execute_run": execute_run}
