"""Where `mcp serve` runs the workflows its client calls: through the queue (the workers), or
in its own process with an engine of its own, for a desktop client used without the rest of
the set. ``auto`` asks at each call whether a worker is alive."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.engine.runner import Engine, open_engine
from configurable_agents.queue.dispatch import create_checked_run, start_run
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import WorkflowNotFoundError
from configurable_agents.storage.repositories import agents, workflows


class RunStarter:
    """Starts runs for the MCP server: queue, here, or auto (queue when a worker is alive)."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], *, mode: str = "auto"
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.mode = mode
        self._stack = ExitStack()
        self._engine: Engine | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> RunStarter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=False)
        self._stack.close()

    def describe(self) -> str:
        """What this starter does, for the line `mcp serve` prints at start."""
        return {
            "queue": "runs go to the workers through the queue",
            "here": "runs execute in this process",
            "auto": "runs go to the workers when one is alive, else execute in this process",
        }[self.mode]

    def _worker_alive(self) -> bool:
        with self.session_factory() as session:
            return agents.count_alive(session) > 0

    def start(self, workflow_id: int, inputs: dict[str, Any]) -> str:
        """Start a run of the workflow's latest version; returns its id."""
        if self.mode == "queue" or (self.mode == "auto" and self._worker_alive()):
            return start_run(
                self.settings,
                self.session_factory,
                workflow_id=workflow_id,
                inputs=inputs,
                trigger="mcp",
            ).id
        with session_scope(self.session_factory) as session:
            workflow = workflows.get(session, workflow_id)
            version = workflows.get_version(session, workflow_id) if workflow else None
            if workflow is None or version is None:
                raise WorkflowNotFoundError(f"no workflow with id {workflow_id}")
            run_id = create_checked_run(session, self.settings, workflow, version, inputs, "mcp").id
        engine = self._local_engine()
        assert self._threads is not None
        self._threads.submit(engine.execute, run_id)
        return run_id

    def _local_engine(self) -> Engine:
        with self._lock:
            return self._opened_engine()

    def _opened_engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._stack.enter_context(
                open_engine(self.settings, self.session_factory)
            )
            self._threads = ThreadPoolExecutor(
                max_workers=self.settings.worker_concurrency, thread_name_prefix="mcp-run"
            )
        return self._engine
