"""The worker process: registers as an agent, heartbeats, keeps its runs' leases, reaps
runs whose worker died, and consumes the queue with WORKER_CONCURRENCY threads.

`honcho start -c worker=3` runs three of these; each is an agent of its own
(``worker-<host>-<pid>``). A clean stop (SIGINT, SIGTERM) deregisters the worker and
expires the leases of the runs it was executing, so another worker resumes them at once.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import ExitStack
from functools import partial

from configurable_agents import __version__
from configurable_agents.bootstrap import Database, fail, open_database, start_process
from configurable_agents.engine.runner import open_engine
from configurable_agents.experiments.cells import after_run, reconcile_running
from configurable_agents.experiments.tracking import send_in_background
from configurable_agents.queue import leases, reconciler
from configurable_agents.queue.background import Every
from configurable_agents.queue.dispatch import enqueue
from configurable_agents.queue.errors import QueueConfigError, QueueUnavailableError
from configurable_agents.queue.huey_app import RESUME_PRIORITY, get_queue
from configurable_agents.queue.schedules import register_tick
from configurable_agents.queue.tasks import WorkerState
from configurable_agents.settings import Settings
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.repositories import agents

log = logging.getLogger(__name__)
# Seconds a stopping worker waits for its running tasks before leaving them to the reaper
# (honcho kills what is left 5 s after asking).
SHUTDOWN_SECONDS = 3.0
# How often a worker looks for experiment cells left unscored by a worker that died.
EXPERIMENT_SWEEP_SECONDS = 5.0
# The shortest time the database waits on a worker's open transaction before ending it:
# no worker transaction waits between its statements for anything but the database.
IDLE_IN_TRANSACTION_MIN = 10.0


class Heartbeat:
    """Registers the worker, heartbeats every third of its TTL with the runs in progress,
    deregisters on stop."""

    def __init__(self, settings: Settings, database: Database, name: str) -> None:
        self.settings = settings
        self.database = database
        self.name = name
        self.agent_id = f"worker-{socket.gethostname()}-{os.getpid()}"
        self._beat = Every("heartbeat", settings.worker_heartbeat_ttl / 3, self.beat)

    def start(self) -> None:

        with session_scope(self.database.session_factory) as session:
            agents.register(
                session,
                agent_id=self.agent_id,
                name=self.name,
                kind=agents.WORKER,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                concurrency=self.settings.worker_concurrency,
                ttl_seconds=self.settings.worker_heartbeat_ttl,
            )
        self._beat.start()

    def beat(self) -> None:

        with session_scope(self.database.session_factory) as session:
            agents.heartbeat(
                session, self.agent_id, runs_in_progress=len(WorkerState.active_runs())
            )

    def stop(self) -> None:

        self._beat.stop()
        try:
            with session_scope(self.database.session_factory) as session:
                agents.deregister(session, self.agent_id)
        except Exception as error:
            log.warning("deregistration failed: %s", error)


class LeaseKeeper:
    """Renews the leases of this worker's runs (every third of RUN_LEASE_SECONDS), reaps
    runs whose worker died (every quarter) and reconciles the queue with the database
    (queued runs whose message was lost are enqueued again): all safe in every worker at
    once. It also scores experiment cells a dead worker left unscored (scoring is claimed
    per cell).

    Threads rather than Huey periodic tasks: those run once a minute at most, and a lease
    is seconds long.
    """

    def __init__(self, settings: Settings, database: Database, worker_id: str) -> None:
        lease = settings.run_lease_seconds
        self.settings = settings
        self.database = database
        self.worker_id = worker_id
        self._reconciler = reconciler.Reconciler(settings, database.session_factory)
        self._threads = [
            Every("lease renewal", lease / 3, self.renew),
            Every("reaper", max(lease / 4, 0.2), self.reap),
            Every("reconciler", reconciler.interval(settings), self.reconcile),
            Every("experiments", EXPERIMENT_SWEEP_SECONDS, self.sweep_experiments),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def renew(self) -> None:

        active = WorkerState.active_runs()
        if not active:
            return
        with session_scope(self.database.session_factory) as session:
            leases.renew(
                session,
                worker_id=self.worker_id,
                run_ids=active,
                lease_seconds=self.settings.run_lease_seconds,
            )

    def reap(self) -> None:

        reaped = leases.reap(
            self.database.session_factory,
            lease_seconds=self.settings.run_lease_seconds,
            max_attempts=self.settings.run_max_attempts,
        )
        for run_id in reaped.requeued:
            try:
                enqueue(self.settings, run_id, priority=RESUME_PRIORITY)
            except QueueUnavailableError as error:
                # Stored as queued: the reconciler hands it over once the queue is back.
                log.warning("run %s queued again but not enqueued: %s", run_id, error)

    def reconcile(self) -> None:

        self._reconciler.run_pass()

    def sweep_experiments(self) -> None:
        """Score experiment cells whose runs finished on a worker that died before it could."""

        reconcile_running(
            self.settings, self.database.session_factory, on_finished=send_in_background
        )

    def stop(self) -> None:
        """Stop the threads, then expire the leases of runs still executing here."""

        for thread in self._threads:
            thread.stop()
        left = WorkerState.active_runs()
        if not left:
            return
        try:
            with session_scope(self.database.session_factory) as session:
                leases.release(session, worker_id=self.worker_id, run_ids=left)
            log.warning("left %d unfinished run(s) to the other workers: %s", len(left), left)
        except Exception as error:
            log.warning("could not release the leases of %s: %s", left, error)


def run_worker() -> int:
    """Entry point of the Procfile's worker process."""

    settings = start_process("worker")
    if settings.log_level != "DEBUG":
        # Huey logs two lines per task; the worker logs one per run instead.
        logging.getLogger("huey").setLevel(logging.WARNING)
        logging.getLogger("huey.consumer").setLevel(logging.INFO)
        logging.getLogger("huey.consumer.Scheduler").setLevel(logging.WARNING)
    # A worker cut off mid-transaction must not keep its runs locked: the server ends
    # such a session after a lease (10 s at least), and another worker takes them over.
    database = open_database(
        settings,
        "worker",
        idle_in_transaction_seconds=max(settings.run_lease_seconds, IDLE_IN_TRANSACTION_MIN),
    )
    try:
        huey = get_queue(settings).huey
        connection = getattr(huey.storage, "conn", None)
        if hasattr(connection, "ping"):  # Redis: fail now, not on every poll
            connection.ping()
    except QueueConfigError as error:
        raise fail("worker", str(error), code=2) from None
    except Exception as error:  # Redis down, queue file not writable
        raise fail(
            "worker", f"cannot open the queue {settings.effective_queue_url}: {error}"
        ) from None
    register_tick(huey, settings, database.session_factory)
    heartbeat = Heartbeat(settings, database, name=f"worker@{socket.gethostname()}")
    heartbeat.start()
    keeper = LeaseKeeper(settings, database, heartbeat.agent_id)
    try:
        with ExitStack() as stack:
            engine = stack.enter_context(open_engine(settings, database.session_factory))
            WorkerState.configure(settings, database.session_factory, engine, heartbeat.agent_id)
            WorkerState.after_run = partial(
                after_run,
                settings,
                database.session_factory,
                on_finished=send_in_background,
            )
            keeper.start()
            poll = settings.worker_poll_seconds
            consumer = huey.create_consumer(
                workers=settings.worker_concurrency,
                worker_type="thread",
                # A steady short poll of the SQLite queue (no backoff to 10 s); Redis blocks.
                initial_delay=poll,
                backoff=1.0,
                max_delay=poll,
                periodic=True,
                shutdown_timeout=SHUTDOWN_SECONDS,
            )
            print(
                f"worker ready: {heartbeat.agent_id} consuming {settings.effective_queue_url} "
                f"with {settings.worker_concurrency} thread(s)",
                flush=True,
            )
            try:
                consumer.run()
            finally:
                keeper.stop()
    finally:
        heartbeat.stop()
        database.engine.dispose()
    print(f"worker stopped: {heartbeat.agent_id}", flush=True)
    return 0
