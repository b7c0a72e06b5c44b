"""The worker process: registers as an agent, heartbeats, consumes the queue."""

from __future__ import annotations

import logging
import os
import socket
import threading

from configurable_agents import __version__
from configurable_agents.bootstrap import Database, fail, open_database, start_process
from configurable_agents.settings import Settings

log = logging.getLogger(__name__)


class Heartbeat:
    """Registers the worker, heartbeats every third of its TTL, deregisters on stop."""

    def __init__(self, settings: Settings, database: Database, name: str) -> None:
        self.settings = settings
        self.database = database
        self.name = name
        self.agent_id = f"worker-{socket.gethostname()}-{os.getpid()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        from configurable_agents.storage.database import session_scope
        from configurable_agents.storage.repositories import agents

        with session_scope(self.database.session_factory) as session:
            agents.register(
                session,
                agent_id=self.agent_id,
                name=self.name,
                kind="worker",
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                concurrency=self.settings.worker_concurrency,
                ttl_seconds=self.settings.worker_heartbeat_ttl,
            )
        self._thread.start()

    def _loop(self) -> None:
        from configurable_agents.storage.database import session_scope
        from configurable_agents.storage.repositories import agents

        interval = self.settings.worker_heartbeat_ttl / 3
        while not self._stop.wait(interval):
            try:
                with session_scope(self.database.session_factory) as session:
                    agents.heartbeat(session, self.agent_id)
            except Exception as error:  # a database blip must not kill the worker
                log.warning("heartbeat failed: %s", error)

    def stop(self) -> None:
        from configurable_agents.storage.database import session_scope
        from configurable_agents.storage.repositories import agents

        self._stop.set()
        try:
            with session_scope(self.database.session_factory) as session:
                agents.deregister(session, self.agent_id)
        except Exception as error:
            log.warning("deregistration failed: %s", error)


def run_worker() -> int:
    """Entry point of the Procfile's worker process."""
    from configurable_agents.queue.huey_app import QueueConfigError, get_huey

    settings = start_process("worker")
    database = open_database(settings, "worker")
    try:
        huey = get_huey(settings)
    except QueueConfigError as error:
        raise fail("worker", str(error), code=2) from None
    heartbeat = Heartbeat(settings, database, name=f"worker@{socket.gethostname()}")
    heartbeat.start()
    from configurable_agents.engine.runner import open_engine
    from configurable_agents.queue.tasks import WorkerState

    engine_scope = open_engine(settings, database.session_factory)
    WorkerState.engine = engine_scope.__enter__()
    WorkerState.worker_id = heartbeat.agent_id
    # Short poll delays: an idle SQLite-queue worker otherwise backs off to 10 s.
    consumer = huey.create_consumer(
        workers=settings.worker_concurrency,
        worker_type="thread",
        initial_delay=0.05,
        backoff=1.15,
        max_delay=0.5,
        periodic=True,
    )
    print(
        f"worker ready: {heartbeat.agent_id} consuming {settings.effective_queue_url} "
        f"with {settings.worker_concurrency} thread(s)",
        flush=True,
    )
    try:
        consumer.run()
    finally:
        engine_scope.__exit__(None, None, None)
        heartbeat.stop()
        database.engine.dispose()
    return 0
