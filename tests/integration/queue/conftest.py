"""Fixtures for the queue tests: the same suite on the embedded stack (SQLite database and
SQLite queue) and the scale-out stack (PostgreSQL and Redis), real worker processes, the
scripted LLM server, and the dashboard's queue routers on a small FastAPI app."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from configurable_agents.bootstrap import Database
from tests.conftest import unavailable
from tests.fakes.openai_server import FakeLLMServer, Reply
from tests.integration.queue.cluster import Cluster, flush_redis, kill_leftovers

# A Redis database of the queue tests' own, emptied before and after each test.
QUEUE_REDIS_URL = os.environ.get("TEST_QUEUE_REDIS_URL", "redis://127.0.0.1:6379/12")
# Short leases and heartbeats so a dead worker is noticed within seconds.
FAST_RECOVERY = {"RUN_LEASE_SECONDS": "2", "WORKER_HEARTBEAT_TTL": "1"}


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, QUEUE_URL): SQLite with the SQLite queue, or PostgreSQL with Redis."""
    if request.param == "sqlite":
        yield f"sqlite:///{data_dir / 'app.db'}", f"sqlite:///{data_dir / 'queue.db'}"
        return
    import redis

    try:
        redis.Redis.from_url(QUEUE_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable("Redis on 127.0.0.1:6379")
    database_url = request.getfixturevalue("postgres_url")
    flush_redis(QUEUE_REDIS_URL)
    yield database_url, QUEUE_REDIS_URL
    flush_redis(QUEUE_REDIS_URL)


def echo_reply(delay: float = 0.0) -> Callable[..., Reply]:
    """The fake server's answer: the prompt echoed back (so each request names its run)."""

    def respond(request: object) -> Reply:
        text = getattr(request, "last_user_text", "")
        return Reply(text=f"fake reply to: {text[:80]}", delay=delay)

    return respond


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def slow_llm() -> Iterator[FakeLLMServer]:
    """Every answer takes 0.3 s: runs are still running when a test acts on them."""
    with FakeLLMServer(default=echo_reply(0.3)) as server:
        yield server


ClusterFactory = Callable[..., Cluster]


@pytest.fixture
def make_cluster(stack: tuple[str, str], data_dir: Path) -> Iterator[ClusterFactory]:
    """Build a Cluster on the stack with extra settings; its workers are stopped afterwards."""
    clusters: list[Cluster] = []

    def make(llm: FakeLLMServer, **env: str) -> Cluster:
        database_url, queue_url = stack
        settings = {
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": llm.base_url,
            "LLM_MODEL": "fake-model",
            **FAST_RECOVERY,
            **env,
        }
        cluster = Cluster(data_dir, database_url, queue_url, env=settings)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        try:
            cluster.stop()
        finally:
            kill_leftovers(cluster.workers)


def api_client(cluster: Cluster) -> TestClient:
    """The dashboard's webhook and agent routers on an app with this cluster's state."""
    from dashboard.routes import agent_api, hooks

    app = FastAPI()
    app.state.settings = cluster.settings
    app.state.database = Database(engine=cluster.engine, session_factory=cluster.session_factory)
    app.include_router(hooks.router)
    app.include_router(agent_api.router)
    return TestClient(app)
