"""Tasks the workers execute."""

from __future__ import annotations

import os
import socket

from huey import Huey


def register(huey: Huey) -> None:
    """Register every task on this Huey instance."""

    @huey.task(name="ping")
    def ping(payload: str = "") -> str:
        """Round trip through the queue: proves a worker consumes it."""
        return f"pong {payload} from {socket.gethostname()}:{os.getpid()}"
