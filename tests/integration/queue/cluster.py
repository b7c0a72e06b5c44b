"""Real worker processes around one database and one queue, for the queue tests and
benchmarks/queue.py (nothing here imports pytest).

A Cluster stores workflows and starts runs in this process (as the dashboard or the API
would, through configurable_agents.queue.dispatch) while `python -m configurable_agents
worker` subprocesses execute them against the scripted LLM server.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.storage.database import (
    create_db_engine,
    make_session_factory,
    session_scope,
)
from configurable_agents.storage.migrations import upgrade_to_head
from configurable_agents.storage.models import Run, RunState, RunStep
from tests.e2e.serviceset import REPO, process_environment, settings_environment

READY = re.compile(r"worker ready: (?P<id>\S+) consuming")
# Bounds for waits that only end a broken test; a healthy run is far quicker.
READY_SECONDS = 60.0
STOP_SECONDS = 20.0

THREE_NODES = """\
schema_version: 1
name: {name}
state:
  text: {{type: str, required: true}}
  a: {{type: str}}
  b: {{type: str}}
  c: {{type: str}}
nodes:
  - {{id: one, kind: llm, prompt: "one {{text}}", output: a}}
  - {{id: two, kind: llm, prompt: "two {{a}}", output: b}}
  - {{id: three, kind: llm, prompt: "three {{b}}", output: c}}
edges:
  - {{from: START, to: one}}
  - {{from: one, to: two}}
  - {{from: two, to: three}}
  - {{from: three, to: END}}
"""


def three_node_workflow(name: str = "three-steps") -> str:
    """A 3-node LLM chain; each prompt carries the run's text, so requests name their run."""
    return THREE_NODES.format(name=name)


@dataclass
class WorkerProcess:
    """One `configurable-agents worker` subprocess with its output in a file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    agent_id: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> str:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            match = READY.search(self.output())
            if match:
                self.agent_id = match.group("id")
                return self.agent_id
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready after {READY_SECONDS} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGINT) -> int | None:
        """Ask the worker to stop (SIGINT: graceful) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def kill9(self) -> None:
        self.process.kill()  # SIGKILL: no cleanup at all, as on a crash
        self.process.wait(5)


@dataclass
class Cluster:
    """A database, a queue, settings for both, and the workers started on them."""

    data_dir: Path
    database_url: str
    queue_url: str
    env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        overrides = {
            "DATABASE_URL": self.database_url,
            "QUEUE_URL": self.queue_url,
            # settings_environment writes the None default as the text "None".
            "WORKSPACE_DIR": str(self.data_dir / "workspace"),
            "TRACKING_ENABLED": "false",
            "LOG_LEVEL": "INFO",
            **self.env,
        }
        self.settings_env = settings_environment(self.data_dir, **overrides)
        values = {key.lower(): value for key, value in self.settings_env.items()}
        self.settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        self.engine = create_db_engine(self.settings.effective_database_url)
        upgrade_to_head(self.engine, self.settings.ensure_data_dir())
        self.session_factory: sessionmaker[Session] = make_session_factory(self.engine)

    # --- workers ---------------------------------------------------------------------------

    def start_workers(self, count: int, **env: str) -> list[WorkerProcess]:
        """Start ``count`` workers (extra settings in ``env``) and wait until each is ready."""
        started = []
        for _ in range(count):
            log_path = self.data_dir / f"worker-{len(self.workers) + 1}.log"
            environment = process_environment({**self.settings_env, **env})
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "configurable_agents", "worker"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=environment,
                    cwd=str(REPO),
                )
            worker = WorkerProcess(process, log_path)
            self.workers.append(worker)
            started.append(worker)
        for worker in started:
            worker.wait_ready()
        return started

    def stop(self) -> None:
        """Stop every worker still running, and close the database."""
        for worker in self.workers:
            worker.stop()
        self.engine.dispose()

    def worker_output(self) -> str:
        return "\n".join(worker.output() for worker in self.workers)

    # --- workflows and runs ----------------------------------------------------------------

    def store_workflow(self, config_yaml: str) -> int:
        from configurable_agents.config.loader import load_config
        from configurable_agents.storage.repositories import workflows

        config = load_config(config_yaml, filename="<test>")
        with session_scope(self.session_factory) as session:
            workflow, _ = workflows.save(session, name=config.name, config_yaml=config_yaml)
            return workflow.id

    def start_run(self, workflow_id: int, inputs: dict[str, Any], trigger: str = "api") -> str:
        from configurable_agents.queue.dispatch import start_run

        run = start_run(
            self.settings,
            self.session_factory,
            workflow_id=workflow_id,
            inputs=inputs,
            trigger=trigger,
        )
        return run.id

    def run(self, run_id: str) -> Run:
        with self.session_factory() as session:
            run = session.get(Run, run_id)
            assert run is not None, f"no run {run_id}"
            return run

    def runs(self, run_ids: Iterable[str] | None = None) -> list[Run]:
        with self.session_factory() as session:
            query = select(Run)
            if run_ids is not None:
                query = query.where(Run.id.in_(list(run_ids)))
            return list(session.scalars(query))

    def steps(self, run_id: str) -> list[RunStep]:
        with self.session_factory() as session:
            query = select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.seq)
            return list(session.scalars(query))

    def wait_for(
        self, condition: Callable[[], Any], *, timeout: float, what: str, poll: float = 0.05
    ) -> Any:
        """Poll ``condition`` until it returns something truthy; a bound, not a measurement."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"gave up waiting for {what} after {timeout} s; workers said:\n"
                    + self.worker_output()[-6000:]
                )
            time.sleep(poll)

    def wait_finished(self, run_ids: Iterable[str], *, timeout: float = 120.0) -> list[Run]:
        """Wait until every run is completed, failed or cancelled."""
        wanted = list(run_ids)

        def finished() -> list[Run] | None:
            runs = self.runs(wanted)
            done = [run for run in runs if run.state in RunState.FINISHED]
            return runs if len(done) == len(wanted) else None

        return self.wait_for(finished, timeout=timeout, what=f"{len(wanted)} runs to finish")

    def wait_state(self, run_id: str, state: str, *, timeout: float = 60.0) -> Run:
        return self.wait_for(
            lambda: (run := self.run(run_id)).state == state and run,
            timeout=timeout,
            what=f"run {run_id} to be {state}",
        )


def flush_redis(url: str) -> None:
    """Empty the Redis database of a queue URL (a test's own database number)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def kill_leftovers(workers: Iterable[WorkerProcess]) -> None:
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            if worker.process.poll() is None:
                os.kill(worker.pid, signal.SIGKILL)
