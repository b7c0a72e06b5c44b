"""The Huey instance for the configured queue URL and its tasks, built once per process.

SQLite (a file in DATA_DIR, the default) is polled by the consumer; Redis blocks on the
queue, so an idle worker starts a run as soon as it is enqueued.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlparse

from huey import Huey

from configurable_agents.queue import tasks
from configurable_agents.queue.errors import QueueConfigError
from configurable_agents.settings import Settings

QUEUE_NAME = "configurable-agents"
# Resumed runs (a worker died, an approval was given) go before new ones.
RESUME_PRIORITY = 10


def build_huey(queue_url: str) -> Huey:
    """SqliteHuey for sqlite:///path, PriorityRedisHuey for redis:// (blocking reads)."""
    scheme = urlparse(queue_url).scheme
    if scheme == "sqlite":
        from huey import SqliteHuey

        # The busy timeout covers several workers taking tasks from the same file.
        return SqliteHuey(
            QUEUE_NAME, filename=queue_url.removeprefix("sqlite:///"), results=False, timeout=30
        )
    if scheme in ("redis", "rediss", "unix"):
        from huey import PriorityRedisHuey

        return PriorityRedisHuey(QUEUE_NAME, url=queue_url, results=False, blocking=True)
    raise QueueConfigError(
        f"invalid setting QUEUE_URL: unsupported scheme {scheme!r} (use sqlite:/// or redis://)"
    )


@dataclass(frozen=True)
class Queue:
    """A Huey instance with this platform's tasks registered on it."""

    huey: Huey
    execute_run: Any
    ping: Any


@cache
def queue_for(queue_url: str) -> Queue:
    """One Queue per queue URL and process."""
    huey = build_huey(queue_url)
    return Queue(huey=huey, **tasks.register(huey))


def get_queue(settings: Settings) -> Queue:
    """The queue of these settings; raises QueueConfigError for a wrong QUEUE_URL."""
    if urlparse(settings.effective_queue_url).scheme == "sqlite":
        settings.ensure_data_dir()
    return queue_for(settings.effective_queue_url)


def get_huey(settings: Settings) -> Huey:
    return get_queue(settings).huey


def get_task(settings: Settings, name: str) -> Any:
    """A registered task by name; calling it enqueues it."""
    return getattr(get_queue(settings), name)
