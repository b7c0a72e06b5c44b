"""The multi-host machines as a fixture: needs root (network namespaces), PostgreSQL and
Redis; in CI a missing one fails, never skips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.integration.queue.conftest import QUEUE_REDIS_URL
from tests.multihost import netns
from tests.multihost.machines import Machines, running_machines


@pytest.fixture
def machines(tmp_path: Path, postgres_url: str) -> Iterator[Machines]:
    why = netns.available()
    if why:
        unavailable(why)
    import redis

    try:
        redis.Redis.from_url(QUEUE_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable("Redis on 127.0.0.1:6379")
    with running_machines(tmp_path, postgres_url, QUEUE_REDIS_URL) as found:
        yield found
