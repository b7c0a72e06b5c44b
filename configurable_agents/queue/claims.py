"""A process other than a worker (`configurable-agents resume` and `approve`) claims a run
the way a worker does: under a lease it renews and a new epoch that fences off whoever
held it before.

It refuses while someone holds the run under a live lease (RunHeldError: who, until
when); with ``take_over`` it waits for that lease to expire, then claims. A run whose
holder died is taken at once (a new epoch: the old holder, if it ever wakes up, writes
nothing).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.queue import leases
from configurable_agents.queue.background import Every
from configurable_agents.settings import Settings
from configurable_agents.storage import run_lifecycle
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.errors import IllegalTransitionError, RunHeldError
from configurable_agents.storage.models import RunState
from configurable_agents.storage.repositories import runs

# How often a waiting `--take-over` looks again once the lease it waits for ran out.
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Held:
    """A run this process claimed: its epoch fences every write it makes."""

    run_id: str
    worker_id: str
    epoch: int


def process_holder_id(command: str) -> str:
    """The holder name a CLI process claims under (shown to whoever finds the run held)."""
    return f"{command}-{socket.gethostname()}-{os.getpid()}"


def claim_run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_id: str,
    *,
    holder_id: str,
    take_over: bool = False,
    on_wait: Callable[[RunHeldError], None] | None = None,
) -> Held:
    """Claim a queued run, or a running one whose lease is not live, under a new epoch.

    RunHeldError (who holds it, until when) while a live lease exists, unless
    ``take_over``: then wait (calling ``on_wait`` each time the lease is found renewed)
    until it expires and claim. IllegalTransitionError for a finished run or one that
    waits for an approval decision.
    """
    lease = settings.run_lease_seconds
    last_seen = None
    while True:
        with session_scope(session_factory) as session:
            run = runs.require(session, run_id)
            if run.state in RunState.FINISHED:
                raise IllegalTransitionError(f"run {run_id} is already {run.state}")
            if run.state == RunState.AWAITING_APPROVAL:
                raise IllegalTransitionError(
                    f"run {run_id} waits for an approval decision: "
                    f"`configurable-agents approve {run_id}` (or --reject) continues it"
                )
            if run.state == RunState.QUEUED:
                taken = run_lifecycle.claim(
                    session, run_id, worker_id=holder_id, lease_seconds=lease
                )
            else:
                held = run_lifecycle.holder(session, run_id)
                if held is not None:
                    if not take_over:
                        raise held
                    taken = None
                else:
                    taken = run_lifecycle.take_over(
                        session, run_id, worker_id=holder_id, lease_seconds=lease
                    )
            if taken is not None:
                return Held(run_id, holder_id, taken.epoch)
        # Lost a race (claimed, renewed, reaped meanwhile) or waiting to take over.
        with session_factory() as session:
            held = run_lifecycle.holder(session, run_id)
        if held is None:
            continue
        if not take_over:
            raise held
        if on_wait is not None and (last_seen is None or held.until != last_seen):
            on_wait(held)
        last_seen = held.until
        time.sleep(POLL_SECONDS)


@contextmanager
def keeping_lease(
    settings: Settings, session_factory: sessionmaker[Session], held: Held
) -> Iterator[None]:
    """Renew the claimed run's lease every third of RUN_LEASE_SECONDS while the block runs
    (as a worker's LeaseKeeper does), so no reaper takes it from a live process."""

    def renew() -> None:
        with session_scope(session_factory) as session:
            leases.renew(
                session,
                worker_id=held.worker_id,
                run_ids=[held.run_id],
                lease_seconds=settings.run_lease_seconds,
            )

    renewal = Every("lease renewal", settings.run_lease_seconds / 3, renew).start()
    try:
        yield
    finally:
        renewal.stop()
