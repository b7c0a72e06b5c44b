"""Engine and session setup for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError

from configurable_agents.storage.errors import DatabaseUnreachableError

if TYPE_CHECKING:
    # The ORM costs ~60 ms to import; `configurable-agents status` does without it.
    from sqlalchemy.orm import Session, sessionmaker

# Seconds a SQLite writer waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages and pages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level so SQLAlchemy's BEGIN below is the only one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: a read that later writes
    # then waits on busy_timeout instead of failing with "database is locked".
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(
    url: str,
    *,
    connect_timeout: float = 5.0,
    idle_in_transaction_seconds: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An Engine configured for the database kind: WAL + busy timeout + FKs on SQLite.

    ``idle_in_transaction_seconds`` (PostgreSQL): the server ends a session whose
    transaction waits longer than this for its client. A worker cut off from the network
    between a statement and its COMMIT otherwise keeps its row locks (on its runs) until
    TCP gives up, hours later, and no other worker can take those runs over.
    """
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": max(1, int(connect_timeout))}
    if idle_in_transaction_seconds is not None:
        milliseconds = max(1000, int(idle_in_transaction_seconds * 1000))
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={milliseconds}"
    return create_engine(
        url, connect_args=connect_args, pool_pre_ping=True, pool_size=5, max_overflow=10, **kwargs
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (they are passed to templates)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Run a trivial query; raises OperationalError when the database is unreachable."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def wait_until_reachable(engine: Engine, timeout: float) -> None:
    """Retry connecting for up to ``timeout`` seconds, then raise DatabaseUnreachableError."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            ping(engine)
            return
        except OperationalError as error:
            if time.monotonic() + delay > deadline:
                reason = str(error.orig or error).strip().splitlines()[0]
                raise DatabaseUnreachableError(
                    f"database unreachable at {redact_url(str(engine.url))}: {reason}"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
