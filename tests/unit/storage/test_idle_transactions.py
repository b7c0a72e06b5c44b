"""A worker's PostgreSQL session left idle inside a transaction (its machine cut off between
a statement and the COMMIT) is ended by the server, so its row locks do not stop another
worker from taking its runs over."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from configurable_agents.storage.database import create_db_engine


def test_the_server_ends_a_transaction_idle_longer_than_the_bound(postgres_url: str) -> None:
    worker = create_db_engine(postgres_url, idle_in_transaction_seconds=1)
    other = create_db_engine(postgres_url)
    try:
        with other.begin() as connection:
            connection.execute(text("CREATE TABLE leases (id int PRIMARY KEY, holder text)"))
            connection.execute(text("INSERT INTO leases VALUES (1, 'w1')"))
        cut_off = worker.connect()
        assert cut_off.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "1s"
        # The statement ran, the COMMIT never comes: the row stays locked meanwhile.
        cut_off.execute(text("UPDATE leases SET holder = 'w1' WHERE id = 1"))
        time.sleep(2.5)

        with other.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            taken = connection.execute(text("UPDATE leases SET holder = 'w2' WHERE id = 1"))
            assert taken.rowcount == 1
        with pytest.raises(DBAPIError):
            cut_off.execute(text("SELECT 1"))
        cut_off.invalidate()
    finally:
        worker.dispose()
        other.dispose()


def test_sqlite_takes_the_bound_and_ignores_it(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url, idle_in_transaction_seconds=1)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
