"""One broadcaster per dashboard process: reads the snapshot once per tick for every subscriber.

Subscribers get the latest snapshot at once, then a new one only when something changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from configurable_agents.status.snapshot import StatusSnapshot

log = logging.getLogger(__name__)


class StatusBroadcaster:
    """Produces snapshots on a timer and fans them out to subscriber queues."""

    def __init__(self, produce: Callable[[], StatusSnapshot], tick_seconds: float = 1.0) -> None:
        self._produce = produce
        self.tick_seconds = tick_seconds
        self.latest: StatusSnapshot | None = None
        self.reads = 0  # snapshots taken; the benchmark checks one per tick
        self._subscribers: set[asyncio.Queue[StatusSnapshot]] = set()
        self._task: asyncio.Task[None] | None = None
        self._fingerprint: tuple[object, ...] | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="status-broadcaster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(self) -> asyncio.Queue[StatusSnapshot]:
        queue: asyncio.Queue[StatusSnapshot] = asyncio.Queue(maxsize=1)
        if self.latest is not None:
            queue.put_nowait(self.latest)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[StatusSnapshot]) -> None:
        self._subscribers.discard(queue)

    async def refresh(self) -> StatusSnapshot:
        """Take one snapshot now and publish it if it changed."""
        snapshot = await asyncio.to_thread(self._produce)
        self.reads += 1
        self.latest = snapshot
        fingerprint = snapshot.fingerprint()
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self._publish(snapshot)
        return snapshot

    def _publish(self, snapshot: StatusSnapshot) -> None:
        for queue in self._subscribers:
            # A slow subscriber only needs the newest snapshot: drop the stale one.
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(snapshot)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # keep ticking; the next snapshot reports the problem
                log.exception("status snapshot failed")
            await asyncio.sleep(self.tick_seconds)
