"""The sender of the tracking outbox: delivers the MLflow records of finished runs.

The engine stores a run's record with the run's end (storage/repositories/outbox.py); one
sender per process that executes runs (every worker, and the CLI while it runs a run)
delivers the due records from a background thread. While MLflow is down a record stays
pending with the reason, and is tried again with a backoff that doubles up to
TRACKING_RETRY_MAX_SECONDS; once MLflow is back every record arrives, once
(:func:`configurable_agents.tracking.mlflow_logger.deliver` finds a record an earlier
attempt logged). On shutdown :meth:`OutboxSender.drain` sends what it can within
TRACKING_DRAIN_SECONDS; the rest stays pending in the database for the next sender.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import utcnow
from configurable_agents.storage.repositories import outbox
from configurable_agents.tracking.errors import MlflowRefused, MlflowUnavailable
from configurable_agents.tracking.mlflow_logger import (
    client_for,
    deliver,
    reachable,
    record_from_json,
)

log = logging.getLogger(__name__)
# First retry after this long, doubling per attempt up to the sender's retry maximum.
RETRY_BASE_SECONDS = 1.0
# A claimed record is another sender's again after this long (its sender died mid-send);
# well above the time one record takes (a few MLflow requests of REQUEST_TIMEOUT each).
CLAIM_SECONDS = 60.0
BATCH = 20
SEND_THREADS = 3


def retry_delay(attempts: int, maximum: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (with 10% jitter, so
    the records of one outage do not all come due in the same instant)."""
    delay = min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), maximum)
    return delay * random.uniform(0.9, 1.0)


class OutboxSender:
    """Delivers due records from one background thread; :meth:`wake` after a run ends."""

    def __init__(
        self,
        tracking_uri: str,
        session_factory: sessionmaker[Session],
        *,
        poll_seconds: float = 2.0,
        retry_max_seconds: float = 30.0,
    ) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.session_factory = session_factory
        self.poll_seconds = poll_seconds
        self.retry_max_seconds = retry_max_seconds
        self.sender_id = f"sender-{socket.gethostname()}-{os.getpid()}"[:64]
        self._client: Any = None
        # Experiment id by workflow name: one request less per record.
        self._experiments: dict[str, str] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._loop, name="tracking-outbox", daemon=True)

    def start(self) -> OutboxSender:
        self._thread.start()
        return self

    def wake(self) -> None:
        """A record was stored: deliver it now rather than at the next poll."""
        self._wake.set()

    def drain(self, timeout: float) -> None:
        """Deliver what is due within ``timeout`` seconds, then stop. What is left stays
        pending in the database (a claim cut short expires): the next sender sends it."""
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 0.5)
        elif self._thread.ident is None:  # never started: one bounded pass here
            self.deliver_due()

    # --- delivering ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.deliver_due()
            except Exception as error:  # a database blip must not stop the sender
                log.warning("tracking outbox: %s: %s", type(error).__name__, error)
            if self._stopping.is_set():
                return

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def deliver_due(self) -> int:
        """Deliver every due record (until none is due or the drain deadline); returns how
        many were sent."""
        sent = 0
        while not self._out_of_time():
            with self.session_factory() as session:
                due = list(outbox.due(session, limit=BATCH))
            if not due:
                return sent
            # A URI that is not HTTP cannot be probed: the attempt itself fails it for good.
            up = not self.tracking_uri.startswith(("http://", "https://")) or reachable(
                self.tracking_uri
            )
            sent += self._deliver_batch(due, up)
            if not up:
                # Every due record now waits for its next attempt: nothing more this pass.
                return sent
        return sent

    def _deliver_batch(self, run_ids: list[str], up: bool) -> int:
        """Deliver records on up to SEND_THREADS threads: one record is about ten MLflow
        requests, each mostly waiting on the server, so a backlog after an outage drains
        several times faster in parallel. Daemon threads: a hanging MLflow never holds the
        process's exit (the claims they hold expire)."""
        left = list(run_ids)
        lock = threading.Lock()
        sent = 0

        def work() -> None:
            nonlocal sent
            while True:
                with lock:
                    if not left or self._out_of_time():
                        return
                    run_id = left.pop(0)
                delivered = self._deliver_one(run_id, up)
                with lock:
                    sent += delivered

        count = min(SEND_THREADS if up else 1, len(left))
        threads = [
            threading.Thread(target=work, name="tracking-send", daemon=True) for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sent

    def _deliver_one(self, run_id: str, up: bool) -> int:
        with session_scope(self.session_factory) as session:
            row = outbox.claim(session, run_id, sender=self.sender_id, seconds=CLAIM_SECONDS)
            if row is None:  # another sender took it
                return 0
            attempts, data = row.attempts, dict(row.record)
        error: str
        try:
            if not up:
                raise MlflowUnavailable(f"MLflow unreachable at {self.tracking_uri}")
            mlflow_run_id = deliver(
                self._get_client(), record_from_json(data), experiments=self._experiments
            )
        except MlflowRefused as refused:
            with session_scope(self.session_factory) as session:
                outbox.mark_failed(session, run_id, sender=self.sender_id, error=str(refused))
            log.warning("run %s: MLflow refused its record: %s", run_id, refused)
            return 0
        except Exception as failure:  # down, timing out, anything else passes: retry
            error = str(failure) if isinstance(failure, MlflowUnavailable) else repr(failure)
            delay = retry_delay(attempts, self.retry_max_seconds)
            with session_scope(self.session_factory) as session:
                outbox.mark_retry(
                    session,
                    run_id,
                    sender=self.sender_id,
                    error=f"{error} (attempt {attempts})",
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                )
            return 0
        with session_scope(self.session_factory) as session:
            outbox.mark_sent(session, run_id, sender=self.sender_id, mlflow_run_id=mlflow_run_id)
        return 1

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = client_for(self.tracking_uri)
        return self._client
