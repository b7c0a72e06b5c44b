"""Tokens of running llm steps, for whoever watches: the cross-process side of streaming.

Runs execute in a worker (or the CLI); the dashboard is another process. The executing
process publishes a step's text so far into ``step_partials`` (at most every
``PUBLISH_EVERY`` seconds, the first piece at once), and only while a watcher holds a lease
in ``run_watches``: a run nobody watches costs one primary-key read per ``RECHECK_EVERY``
seconds of its execution (not per step: a read and its transaction cost more than a fast
node), and no writes. A watcher who arrives while the run executes is noticed within
``RECHECK_EVERY`` seconds; one who watches from the start (``run --follow``, an open run
page) gets the first step's row and first token at once. In-process listeners (the CLI's
live view) get every piece through ``on_token`` with no database in between.

A failure to publish is logged and ignored: the live view is a window, the stored step
(written once, when the step ends) is the record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.llm.types import TokenCallback
from configurable_agents.storage.database import session_scope
from configurable_agents.storage.models import utcnow
from configurable_agents.storage.repositories import live

log = logging.getLogger(__name__)

PUBLISH_EVERY = 0.1
RECHECK_EVERY = 1.0

# (node, piece of text): what an in-process listener gets.
NodeTokenListener = Callable[[str, str], None]
# node id -> the token callback of that node's new execution (None: nothing listens).
NodeTokens = Callable[[str], TokenCallback | None]


class StepTokens:
    """The token callback of one execution of one llm node."""

    def __init__(
        self,
        session_factory: sessionmaker[Session] | None,
        run: RunTokens,
        node: str,
        generation: int,
        listener: NodeTokenListener | None,
    ) -> None:
        self._session_factory = session_factory
        self._run = run
        self.run_id, self.node, self.generation = run.run_id, node, generation
        self._listener = listener
        self._pieces: list[str] = []
        self._started_at: datetime = utcnow()
        self._last_publish = float("-inf")
        self._lock = threading.Lock()
        self.writes = 0  # rows written (the tests check an unwatched run writes none)
        # An empty row as soon as the step starts: watchers see step_started at once. The
        # first token is then published at once too (the throttle starts after it).
        self._publish(time.monotonic())
        self._last_publish = float("-inf")

    def __call__(self, piece: str) -> None:
        if self._listener is not None:
            self._listener(self.node, piece)
        if self._session_factory is None:
            return
        with self._lock:
            self._pieces.append(piece)
            now = time.monotonic()
            if now - self._last_publish >= PUBLISH_EVERY:
                self._publish(now)

    def _publish(self, now: float) -> None:
        if self._session_factory is None:
            return

        self._last_publish = now
        if not self._run.watched(now):
            return
        try:
            with session_scope(self._session_factory) as session:
                live.write_partial(
                    session,
                    self.run_id,
                    self.node,
                    self.generation,
                    "".join(self._pieces),
                    self._started_at,
                )
                self.writes += 1
        except Exception:  # a busy database must not fail the step; the record comes later
            log.debug("publishing tokens of run %s failed", self.run_id, exc_info=True)


class RunTokens:
    """The token callbacks of one run's execution: call it with a node id."""

    def __init__(
        self,
        session_factory: sessionmaker[Session] | None,
        run_id: str,
        listener: NodeTokenListener | None,
    ) -> None:
        self._session_factory = session_factory
        self.run_id = run_id
        self._listener = listener
        self._generations: dict[str, int] = {}
        self._steps: list[StepTokens] = []
        self._lock = threading.Lock()
        # Whether someone watches, as last read (shared by the run's steps and branches).
        self._watched = False
        self._last_check = float("-inf")
        self._check_lock = threading.Lock()

    def __call__(self, node: str) -> TokenCallback | None:
        if self._session_factory is None and self._listener is None:
            return None
        with self._lock:
            self._generations[node] = generation = self._generations.get(node, 0) + 1
        step = StepTokens(self._session_factory, self, node, generation, self._listener)
        with self._lock:
            self._steps.append(step)
        return step

    def watched(self, now: float) -> bool:
        """Whether a watcher holds a lease on the run: read at most every
        ``RECHECK_EVERY`` seconds (parallel branches wait for one read, not one each)."""
        with self._check_lock:
            if now - self._last_check >= RECHECK_EVERY and self._session_factory is not None:
                self._last_check = now
                try:
                    with self._session_factory() as session:
                        self._watched = live.is_watched(session, self.run_id)
                except Exception:  # a busy database: keep the last answer, try again later
                    log.debug("reading watches of run %s failed", self.run_id, exc_info=True)
            return self._watched

    @property
    def writes(self) -> int:
        """Partial rows written for this execution."""
        with self._lock:
            return sum(step.writes for step in self._steps)

    def close(self) -> None:
        """The execution ended: drop its partial rows (only if it wrote any)."""
        if self._session_factory is None or self.writes == 0:
            return

        try:
            with session_scope(self._session_factory) as session:
                live.clear_partials(session, self.run_id)
        except Exception:  # leftovers are harmless: the next execution overwrites them
            log.debug("clearing partial tokens of run %s failed", self.run_id, exc_info=True)


class TokenPublisher:
    """One per engine: the token callbacks of each run it executes."""

    def __init__(self, session_factory: sessionmaker[Session] | None) -> None:
        self._session_factory = session_factory

    def for_run(self, run_id: str, listener: NodeTokenListener | None = None) -> RunTokens:
        """The callbacks of one run's execution (with an in-process listener or not)."""
        return RunTokens(self._session_factory, run_id, listener)
