"""The tasks every process that enqueues knows: executing a run, and a ping.

The schedule tick is a periodic task only workers run: the worker registers it itself
(``queue.schedules.register_tick``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from huey import Huey

from configurable_agents.queue import leases
from configurable_agents.queue.leases import Claim, Limits
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.states import RunState

log = logging.getLogger(__name__)
# A run over a concurrency limit waits in the schedule before it is tried again: first
# this long, doubling up to the maximum.
LIMITED_RETRY_SECONDS = 0.5
LIMITED_RETRY_MAX_SECONDS = 5.0


class WorkerState:
    """What the tasks of this worker process share: its engine, identity and active runs.

    Set once by the worker entry point; the runs in ``active`` are the ones whose leases
    the renewer keeps alive and whose count the heartbeat reports.
    """

    settings: Any = None
    session_factory: Any = None
    engine: Any = None
    worker_id: str | None = None
    lease_seconds: float = 60.0
    limits: Limits = Limits()
    # run id -> how many of this worker's threads execute it (a thread whose claim went
    # stale may still be on its way out while another thread holds the run anew).
    active: Counter[str] = Counter()
    # Called with the run id after each run this worker finished (experiments score their
    # cells here); set by the worker entry point, so the queue does not import experiments.
    after_run: Any = None
    lock = threading.Lock()

    @classmethod
    def configure(cls, settings: Any, session_factory: Any, engine: Any, worker_id: str) -> None:
        cls.settings, cls.session_factory, cls.engine = settings, session_factory, engine
        cls.worker_id = worker_id
        cls.lease_seconds = settings.run_lease_seconds
        cls.limits = Limits.from_settings(settings)

    @classmethod
    def active_runs(cls) -> list[str]:
        with cls.lock:
            return sorted(cls.active)

    @classmethod
    @contextmanager
    def executing(cls, run_id: str) -> Iterator[None]:
        with cls.lock:
            cls.active[run_id] += 1
        try:
            yield
        finally:
            with cls.lock:
                cls.active[run_id] -= 1
                if cls.active[run_id] <= 0:
                    del cls.active[run_id]


def register(huey: Huey) -> dict[str, Any]:
    """Register every task on this Huey instance; returns them by name."""

    @huey.task(name="ping")
    def ping(payload: str = "") -> str:
        """Round trip through the queue: proves a worker consumes it."""
        return f"pong {payload} from {socket.gethostname()}:{os.getpid()}"

    @huey.task(name="execute_run")
    def execute_run(run_id: str, waits: int = 0) -> str | None:
        """Claim one queued run (within the limits) and execute or resume it here.

        ``waits`` counts how often the run found a concurrency limit reached: it is tried
        again after a delay that doubles each time (so a long queue waiting behind a
        limit does not keep the workers busy re-checking it).
        """
        if WorkerState.engine is None:
            log.error("run %s reached a process without an engine; left queued", run_id)
            return None
        with WorkerState.executing(run_id):
            if WorkerState.limits.active:
                outcome = _claim_within_limits(run_id)
                if outcome is Claim.LIMITED:
                    delay = min(LIMITED_RETRY_SECONDS * 2**waits, LIMITED_RETRY_MAX_SECONDS)
                    execute_run.schedule(args=(run_id, waits + 1), delay=delay)
                    return Claim.LIMITED.value
                if outcome is not Claim.CLAIMED:
                    return None
                # Claimed above: the engine executes the claimed attempt.
                result = WorkerState.engine.execute(
                    run_id, worker_id=WorkerState.worker_id, claimed=True
                )
            else:
                # The engine claims the queued run itself (None when it is not queued).
                result = WorkerState.engine.execute(
                    run_id, worker_id=WorkerState.worker_id, lease_seconds=WorkerState.lease_seconds
                )
        if result is None:
            return None
        _after_run(run_id, result.state)
        state = result.state
        detail = f": {result.error_message}" if result.error_message else ""
        if result.error_type == "StaleClaim":
            # Fenced off: another claim holds the run; this worker wrote nothing more.
            log.warning("run %s left to its new holder%s", run_id, detail)
        else:
            log.info("run %s %s%s", run_id, state, detail)
        return state

    return {"execute_run": execute_run, "ping": ping}


def _after_run(run_id: str, state: str) -> None:
    hook = WorkerState.after_run
    if hook is None or state not in RunState.FINISHED:
        return
    try:
        hook(run_id)
    except Exception:  # scoring must never take the worker down
        log.exception("after run %s", run_id)


def _claim_within_limits(run_id: str) -> Claim:
    with session_scope(WorkerState.session_factory) as session:
        outcome, reason = leases.claim(
            session,
            run_id,
            worker_id=str(WorkerState.worker_id),
            lease_seconds=WorkerState.lease_seconds,
            limits=WorkerState.limits,
        )
    if outcome is Claim.LIMITED:
        log.info("run %s waits: %s", run_id, reason)
    return outcome
