"""A daemon thread that calls one function at a fixed interval: heartbeats, lease renewal,
the reaper. A failing call is logged and tried again at the next tick, never fatal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Every:
    """Call ``action`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, name: str, interval: float, action: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.action = action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Every:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.action()
            except Exception as error:  # a database blip must not stop the worker
                log.warning("%s failed: %s: %s", self.name, type(error).__name__, error)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
