"""The Huey instance for the configured queue URL, built once per process."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlparse

from huey import Huey

from configurable_agents.settings import Settings

QUEUE_NAME = "configurable-agents"


class QueueConfigError(ValueError):
    """QUEUE_URL names a storage we do not support."""


def build_huey(queue_url: str) -> Huey:
    """SqliteHuey for sqlite:///path, RedisHuey for redis://."""
    scheme = urlparse(queue_url).scheme
    if scheme == "sqlite":
        from huey import SqliteHuey

        return SqliteHuey(QUEUE_NAME, filename=queue_url.removeprefix("sqlite:///"), results=False)
    if scheme in ("redis", "rediss", "unix"):
        from huey import PriorityRedisHuey

        return PriorityRedisHuey(QUEUE_NAME, url=queue_url, results=False)
    raise QueueConfigError(
        f"invalid setting QUEUE_URL: unsupported scheme {scheme!r} (use sqlite:/// or redis://)"
    )


@cache
def _queue_for(queue_url: str) -> tuple[Huey, dict[str, Any]]:
    from configurable_agents.queue import tasks

    huey = build_huey(queue_url)
    return huey, tasks.register(huey)


def huey_for(queue_url: str) -> Huey:
    """One Huey per queue URL and process, with the tasks registered."""
    return _queue_for(queue_url)[0]


def get_huey(settings: Settings) -> Huey:
    return huey_for(settings.effective_queue_url)


def get_task(settings: Settings, name: str) -> Any:
    """A registered task by name; calling it enqueues it."""
    return _queue_for(settings.effective_queue_url)[1][name]
