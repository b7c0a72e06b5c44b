"""Fixtures that build real things: migrated SQLite and PostgreSQL databases, settings."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from configurable_agents.storage.database import create_db_engine, make_session_factory
from configurable_agents.storage.migrations import upgrade_to_head
from tests.databases import temporary_postgres_database

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = bool(os.environ.get("CI"))


def unavailable(what: str) -> None:
    """Skip locally when a service is missing; in CI that is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


@pytest.fixture(autouse=True)
def _forget_structured_methods() -> Iterator[None]:
    """Each test starts knowing no endpoint's structured-output method: the memory is
    process-wide and keyed by URL, and test servers reuse ports."""
    from configurable_agents.llm.base import structured_methods

    structured_methods.forget()
    yield
    structured_methods.forget()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'app.db'}"


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not _postgres_available():
        unavailable("PostgreSQL on 127.0.0.1:5432")
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine, data_dir: Path) -> Engine:
    """A database migrated to head."""
    upgrade_to_head(empty_engine, data_dir)
    return empty_engine


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session
