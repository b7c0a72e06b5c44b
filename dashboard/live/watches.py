"""Slow readings kept apart from the tick: service probes and system resources.

Each watch runs on its own loop (started by the app's lifespan beside the tick) and keeps
its latest answer; the tick puts that answer in every snapshot. A probe or a reading that
takes a while therefore never holds up a snapshot, and a change in the database still
reaches the browsers within one tick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.settings import Settings
from configurable_agents.status.probes import PROBE_TIMEOUT, ServiceHealth, probe_services
from configurable_agents.status.resources import (
    Resources,
    Thresholds,
    collect_resources,
    service_processes,
)
from dashboard import queries

log = logging.getLogger(__name__)


async def every(seconds: float, work: Callable[[], object], what: str) -> None:
    """Run ``work`` in a thread every ``seconds``; a failed round is logged, not fatal."""
    while True:
        try:
            await asyncio.to_thread(work)
        except Exception:  # keep going; a failed round leaves the last answer
            log.exception("%s failed", what)
        await asyncio.sleep(seconds)


class ServiceWatch:
    """The health of chat and MLflow."""

    def __init__(self, settings: Settings, interval: float) -> None:
        self._settings = settings
        self.interval = interval
        self.latest: list[ServiceHealth] = []

    def probe(self, timeout: float = PROBE_TIMEOUT) -> list[ServiceHealth]:
        """Probe the other services now and keep the answer."""
        # The dashboard knows it is up; probing itself would only add a request per probe.
        self.latest = probe_services(self._settings, skip=frozenset({"dashboard"}), timeout=timeout)
        return self.latest

    async def run(self) -> None:
        """Probe every ``interval`` seconds, forever."""
        await every(self.interval, self.probe, "service probe")


class ResourceWatch:
    """CPU, memory, disk under DATA_DIR and each process of the set, every few seconds.

    The dashboard is this process; chat and MLflow are the processes listening on their
    ports; workers are the pids they registered as agents on this host.
    """

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self.interval = settings.resources_interval_seconds
        self.thresholds = Thresholds.from_settings(settings)
        self.latest: Resources | None = None

    def processes(self) -> dict[str, list[int]]:
        """{service: pids} of the set as this machine runs it now."""
        with self._session_factory() as session:
            workers = queries.local_worker_pids(session, socket.gethostname())
        ports = {"chat": self._settings.chat_port, "mlflow": self._settings.mlflow_port}
        return {"dashboard": [os.getpid()], **service_processes(ports, workers)}

    def read(self) -> Resources:
        """Take one reading now and keep it."""
        self.latest = collect_resources(self._settings.data_path, self.processes(), self.thresholds)
        return self.latest

    async def run(self) -> None:
        """Read every ``interval`` seconds, forever."""
        await every(self.interval, self.read, "resource reading")
